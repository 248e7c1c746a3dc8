"""HTTP routing of the `api` function: match the route, run its handler, answer JSON (errors included)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from shared.api.body import check_json_content_type, read_body, stop_reading
from shared.platform.errors import ApiError, TransientError, classify_unexpected
from shared.platform.logs import log
from shared.platform.settings import Settings

ROUTES = Map(
    [
        Rule("/health", methods=["GET"], endpoint="health"),
        Rule("/health/ready", methods=["GET"], endpoint="ready"),
        Rule("/openapi.json", methods=["GET"], endpoint="openapi"),
        Rule("/api/v1/pipelines/run/<org>/<provider>/<domain>/<pipeline>", methods=["POST"], endpoint="run"),
        Rule("/api/v1/pipelines/runs", methods=["GET"], endpoint="list_runs"),
        Rule("/api/v1/pipelines/runs/<run_id>", methods=["GET"], endpoint="get_run"),
        Rule("/api/v1/pipelines/runs/<run_id>", methods=["DELETE"], endpoint="cancel_run"),
        Rule("/api/v1/pipelines/runs/<run_id>/costs", methods=["GET"], endpoint="run_costs:get_run_costs"),
        Rule("/api/v1/scheduler/trigger", methods=["POST"], endpoint="scheduler_trigger"),
        Rule("/api/v1/scheduler/process-queue", methods=["POST"], endpoint="scheduler_process_queue"),
        Rule("/api/v1/admin/reap", methods=["POST"], endpoint="reap"),
        Rule("/api/v1/admin/dead-letters", methods=["GET"], endpoint="list_dead_letters"),
        Rule("/api/v1/admin/dead-letters/replay", methods=["POST"], endpoint="replay_dead_letters"),
        # "<module>:<handler>": handlers in shared/api/<module>.py (the rest are in handlers.py).
        Rule("/api/v1/subscriptions/<org>/saas", methods=["POST"], endpoint="saas:create_plan"),
        Rule("/api/v1/subscriptions/<org>/saas", methods=["GET"], endpoint="saas:list_plans"),
        Rule("/api/v1/subscriptions/<org>/saas/<subscription_id>", methods=["GET"], endpoint="saas:get_plan"),
        Rule(
            "/api/v1/subscriptions/<org>/saas/<subscription_id>",
            methods=["PATCH"],
            endpoint="saas:change_plan",
        ),
        Rule(
            "/api/v1/subscriptions/<org>/saas/<subscription_id>", methods=["DELETE"], endpoint="saas:end_plan"
        ),
        Rule("/api/v1/alerts/<org>/budgets", methods=["POST"], endpoint="alerts:create_budget"),
        Rule("/api/v1/alerts/<org>/budgets", methods=["GET"], endpoint="alerts:list_budgets"),
        Rule("/api/v1/alerts/<org>/budgets/<budget_id>", methods=["GET"], endpoint="alerts:get_budget"),
        Rule("/api/v1/alerts/<org>/budgets/<budget_id>", methods=["PATCH"], endpoint="alerts:change_budget"),
        Rule("/api/v1/alerts/<org>/budgets/<budget_id>", methods=["DELETE"], endpoint="alerts:delete_budget"),
        Rule("/api/v1/alerts/<org>/webhook", methods=["PUT"], endpoint="alerts:set_webhook"),
        Rule("/api/v1/alerts/<org>/webhook", methods=["DELETE"], endpoint="alerts:clear_webhook"),
    ],
    strict_slashes=False,
)


@dataclass
class ApiDeps:
    """What the handlers talk to; built once per process by `default_deps()`, injectable in tests."""

    settings: Settings
    warehouse: object
    publisher: object
    kms_client: object
    tasks_client: object | None = None  # None: the process's client, created on the first scheduler call
    subscriber_client: object | None = None  # None: the process's, created on the first dead-letter call

    def tasks(self):
        """The Cloud Tasks client (lazily: only the scheduler routes pay for importing it)."""
        if self.tasks_client is None:
            from shared.platform import clients

            self.tasks_client = clients.tasks_client()
        return self.tasks_client

    def subscriber(self):
        """The Pub/Sub subscriber that drains dead letters (lazily, as for tasks)."""
        if self.subscriber_client is None:
            from shared.platform import clients

            self.subscriber_client = clients.subscriber_client()
        return self.subscriber_client


@functools.cache
def default_deps() -> ApiDeps:
    """The real dependencies of this process (clients are created lazily, once)."""
    from shared.platform import clients
    from shared.platform.settings import get_settings
    from shared.warehouse.adapter import API_UNAVAILABLE_AFTER_SECONDS

    warehouse = clients.warehouse(API_UNAVAILABLE_AFTER_SECONDS)
    return ApiDeps(get_settings(), warehouse, clients.publisher_client(), clients.kms_client())


def _json_default(value):
    """Dates and times as ISO 8601 (RFC 3339 for timestamps), Decimals as exact strings."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response."""
    return Response(
        json.dumps(body, default=_json_default), status=status, headers=headers, mimetype="application/json"
    )


def handle(request: Request, deps: ApiDeps | None = None) -> Response:
    """Answer one HTTP request."""
    try:
        # First, whatever the route: a slow or oversized body must not hold this thread, and nothing may be
        # left for the framework's after-request hook, which would read the rest unbounded.
        raw = read_body(request)
        endpoint, args = ROUTES.bind_to_environ(request.environ).match()
        check_json_content_type(request, raw)
        return _handler(endpoint)(request, deps or default_deps(), **args)
    except ApiError as error:
        return json_response(error.body(), error.status, error.headers)
    except TransientError as error:  # a backend outage or contention: the caller should retry shortly
        log("WARNING", f"{error.code} on {request.method} {request.path}")
        return json_response(
            ApiError("BACKEND_UNAVAILABLE", f"{error.message}").body(), 503, {"Retry-After": "5"}
        )
    except (NotFound, RequestRedirect):  # a redirect would only be to a merged "//": no such route either
        return json_response(ApiError("NOT_FOUND", f"No route {request.path}.").body(), 404)
    except MethodNotAllowed:
        return json_response(
            ApiError("METHOD_NOT_ALLOWED", f"{request.method} is not allowed here.").body(), 405
        )
    except Exception as exc:  # noqa: BLE001 - an unexpected failure answers in our format, logged once
        return unexpected_failure(request, exc)


def _handler(endpoint: str):
    """The function of an endpoint: `name` in handlers.py, or `module:name` in shared/api/<module>.py."""
    from shared.api import alerts, handlers, run_costs, saas

    module, _, name = endpoint.rpartition(":")
    return getattr({"": handlers, "saas": saas, "alerts": alerts, "run_costs": run_costs}[module], name)


def unexpected_failure(request: Request, exc: Exception) -> Response:
    """The answer to an exception no layer classified: 503 for a backend outage, else 500; logged once."""
    stop_reading(request)  # the body may be unread if the failure came first; it stays so
    log("ERROR", f"unhandled {type(exc).__name__} on {request.method} {request.path}: {exc}"[:500])
    if isinstance(classify_unexpected(exc), TransientError):
        return json_response(
            ApiError("BACKEND_UNAVAILABLE", "A backend is unavailable; retry.").body(),
            503,
            {"Retry-After": "5"},
        )
    return json_response(ApiError("INTERNAL", "Internal error.").body(), 500)
