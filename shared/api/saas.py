"""Handlers of the SaaS plan routes (`/api/v1/subscriptions/{org}/saas`): the org's key, the org in the path, the
plan store (shared/saas/plans.py). A change names the version it was made against in `If-Match` (409 if the plan
moved on); every answer carries the plan's version as its ETag."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from werkzeug.wrappers import Request, Response

from shared.api.app import ApiDeps, json_response
from shared.api.models import refuse_duplicate_keys
from shared.api.paging import id_page_args
from shared.platform.errors import ApiError
from shared.platform.identifiers import is_org_slug
from shared.saas import plans
from shared.saas.terms import PlanInvalid, parse_effective_date
from shared.tenancy import auth

IF_MATCH = re.compile(r'^(?:W/)?"?([1-9][0-9]{0,5})"?$')
MAX_PAGE = 100


def _authorized_db(request: Request, deps: ApiDeps, org: str):
    """The control store, once the caller's key is the path's org's (401/403 as for runs)."""
    from shared.runs.control import control_db

    if not is_org_slug(org):
        raise ApiError("INVALID_PATH", "The org slug is malformed.")
    caller = auth.authenticate_org(deps.warehouse, deps.settings, request.headers.get("X-API-Key"))
    auth.authorize_org(caller, org)
    return control_db(deps.settings)


def _object(request: Request, *, empty_ok: bool = False) -> dict:
    """The JSON object of the body; 422 if it is not one. Money stays a string: a JSON number is refused later."""
    raw = request.get_data()
    if not raw.strip():
        if empty_ok:
            return {}
        raise ApiError("INVALID_REQUEST", "body: must be a JSON object")
    refuse_duplicate_keys(raw)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError("INVALID_REQUEST", "body: not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("INVALID_REQUEST", "body: must be a JSON object")
    return body


def _expected_version(request: Request) -> int | None:
    """The version named by `If-Match` (e.g. "3"); None when absent (the change applies to the newest)."""
    value = request.headers.get("If-Match")
    if value is None:
        return None
    matched = IF_MATCH.match(value.strip())
    if not matched:
        raise ApiError("INVALID_REQUEST", 'If-Match: must be the plan\'s version, e.g. "3"')
    return int(matched.group(1))


def versioned(document: dict, status: int = 200) -> Response:
    """A versioned document (a plan, a budget) with its version as the ETag an If-Match names."""
    return json_response(document, status, {"ETag": f'"{document["version"]}"'})


def create_plan(request: Request, deps: ApiDeps, org: str) -> Response:
    """Store a new plan (version 1, from its start_date); 201 with its id."""
    db = _authorized_db(request, deps, org)
    return versioned(plans.create_plan(db, org, _object(request)), 201)


def list_plans(request: Request, deps: ApiDeps, org: str) -> Response:
    """The org's plans (current terms, no history), by id, a page at a time (`limit`, `page_token`)."""
    db = _authorized_db(request, deps, org)
    limit, token = id_page_args(request, plans.SUBSCRIPTION_ID, MAX_PAGE)
    page, after = plans.list_plans(db, org, limit, token)
    return json_response({"subscriptions": page, "next_page_token": after})


def get_plan(request: Request, deps: ApiDeps, org: str, subscription_id: str) -> Response:
    """One plan with its version history; 404 for an unknown id or another org's."""
    db = _authorized_db(request, deps, org)
    return versioned(plans.get_plan(db, org, subscription_id))


def change_plan(request: Request, deps: ApiDeps, org: str, subscription_id: str) -> Response:
    """A change: the given fields from `effective_date` (default today UTC) on, as a new version."""
    db = _authorized_db(request, deps, org)
    body = _object(request)
    effective = _effective(body.pop("effective_date", None))
    if not body:
        raise ApiError("INVALID_REQUEST", "body: name at least one field to change")
    document = plans.change_plan(db, org, subscription_id, body, effective, _expected_version(request))
    return versioned(document)


def end_plan(request: Request, deps: ApiDeps, org: str, subscription_id: str) -> Response:
    """End the plan from `effective_date` (default today UTC): a new version; no cycle starts from that day."""
    db = _authorized_db(request, deps, org)
    body = _object(request, empty_ok=True)
    effective = _effective(body.pop("effective_date", None))
    if body:
        raise ApiError("INVALID_REQUEST", f"{min(body)}: unknown field (send only effective_date)")
    document = plans.change_plan(
        db, org, subscription_id, {}, effective, _expected_version(request), end=True
    )
    return versioned(document)


def _effective(value):
    try:
        return parse_effective_date(value, datetime.now(UTC).date())
    except PlanInvalid as error:
        raise plans.invalid(error) from None
