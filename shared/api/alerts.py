"""Handlers of the alert routes (`/api/v1/alerts/{org}/budgets`, `/api/v1/alerts/{org}/webhook`): the org's key,
the org in the path, the budget store (shared/alerts/budgets.py) and the webhook settings (shared/alerts/webhook.py).
A change or delete may name the version it was made against in `If-Match` (409 if the budget moved on); every
budget answer carries its version as its ETag."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from shared.alerts import budgets, webhook
from shared.api.app import ApiDeps, json_response
from shared.api.paging import id_page_args
from shared.api.saas import _authorized_db, _expected_version, _object, versioned

MAX_PAGE = 100


def create_budget(request: Request, deps: ApiDeps, org: str) -> Response:
    """Store a new budget (version 1); 201 with its id."""
    db = _authorized_db(request, deps, org)
    return versioned(budgets.create_budget(db, org, _object(request)), 201)


def list_budgets(request: Request, deps: ApiDeps, org: str) -> Response:
    """The org's budgets by id, a page at a time (`limit`, `page_token`)."""
    db = _authorized_db(request, deps, org)
    limit, token = id_page_args(request, budgets.BUDGET_ID, MAX_PAGE)
    page, after = budgets.list_budgets(db, org, limit, token)
    return json_response({"budgets": page, "next_page_token": after})


def get_budget(request: Request, deps: ApiDeps, org: str, budget_id: str) -> Response:
    """One budget; 404 for an unknown id or another org's."""
    db = _authorized_db(request, deps, org)
    return versioned(budgets.get_budget(db, org, budget_id))


def change_budget(request: Request, deps: ApiDeps, org: str, budget_id: str) -> Response:
    """Change the given fields as the next version."""
    db = _authorized_db(request, deps, org)
    body = _object(request)
    return versioned(budgets.change_budget(db, org, budget_id, body, _expected_version(request)))


def delete_budget(request: Request, deps: ApiDeps, org: str, budget_id: str) -> Response:
    """Delete a budget (its alerts stay); 204."""
    db = _authorized_db(request, deps, org)
    budgets.delete_budget(db, org, budget_id, _expected_version(request))
    return Response(status=204)


def set_webhook(request: Request, deps: ApiDeps, org: str) -> Response:
    """Store the org's webhook URL and signing secret (generated and shown once when not given)."""
    db = _authorized_db(request, deps, org)
    return json_response(webhook.set_webhook(db, deps.kms_client, deps.settings, org, _object(request)))


def clear_webhook(request: Request, deps: ApiDeps, org: str) -> Response:
    """Remove the org's webhook; 204 (also when it had none: the result is the same)."""
    db = _authorized_db(request, deps, org)
    webhook.clear_webhook(db, org)
    return Response(status=204)
