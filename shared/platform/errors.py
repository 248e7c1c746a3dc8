"""Error catalogue and error classes, classified by what the caller must do about them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    """One catalogue entry: HTTP status and what the caller can do."""

    status: int
    action: str


# The HTTP layer and the docs read this one table (codes are stable; messages may vary per case).
CATALOGUE: dict[str, ErrorSpec] = {
    "UNAUTHENTICATED": ErrorSpec(401, "Send a valid org API key in the X-API-Key header."),
    "INVALID_ROOT_KEY": ErrorSpec(401, "Send the admin key in the X-CA-Root-Key header."),
    "API_KEY_EXPIRED": ErrorSpec(401, "Create a new API key for the org."),
    "ORG_MISMATCH": ErrorSpec(403, "Use an API key of the org named in the path."),
    "SUBSCRIPTION_INACTIVE": ErrorSpec(403, "Reactivate the org's subscription."),
    "SUBSCRIPTION_SUSPENDED": ErrorSpec(403, "The subscription is suspended; contact billing."),
    "SUBSCRIPTION_CANCELLED": ErrorSpec(403, "The subscription is cancelled; start a new one."),
    "SUBSCRIPTION_PAST_DUE": ErrorSpec(403, "Settle the outstanding invoice."),
    "INTEGRATION_NOT_CONFIGURED": ErrorSpec(400, "Store an active credential for the provider first."),
    "PIPELINE_NOT_FOUND": ErrorSpec(404, "Check provider/domain/pipeline against the published pipelines."),
    "RUN_NOT_FOUND": ErrorSpec(404, "Check the pipeline_logging_id."),
    "NOT_FOUND": ErrorSpec(404, "Check the URL."),
    "METHOD_NOT_ALLOWED": ErrorSpec(405, "Use the method the endpoint documents."),
    "INVALID_REQUEST": ErrorSpec(422, "Fix the named field and send the request again."),
    "INVALID_PATH": ErrorSpec(400, "Org slugs and path segments are lowercase letters, digits and '_'."),
    "RUN_NOT_CANCELLABLE": ErrorSpec(409, "The run already finished; start a new one instead."),
    "SAAS_PLAN_NOT_FOUND": ErrorSpec(404, "Check the subscription_id (GET .../saas lists the org's plans)."),
    "SAAS_PLAN_CONFLICT": ErrorSpec(
        409, "The plan changed since you read it: GET it, then send the change with its version in If-Match."
    ),
    "BUDGET_NOT_FOUND": ErrorSpec(404, "Check the budget_id (GET /api/v1/alerts/{org}/budgets lists them)."),
    "BUDGET_CONFLICT": ErrorSpec(
        409,
        "The budget changed since you read it: GET it, then send the change with its version in If-Match.",
    ),
    "NOT_IMPLEMENTED": ErrorSpec(501, "This operation is not available yet."),
    "PAYLOAD_TOO_LARGE": ErrorSpec(413, "Send a body of at most 16 KiB."),
    "REQUEST_TIMEOUT": ErrorSpec(408, "Send the whole body at once (within 5 s, no pause over 2 s)."),
    "UNSUPPORTED_MEDIA_TYPE": ErrorSpec(415, "Send the body with Content-Type: application/json."),
    "RATE_LIMITED": ErrorSpec(429, "Slow down; retry after the Retry-After seconds."),
    "CONCURRENCY_LIMIT_REACHED": ErrorSpec(429, "Wait for a running run to finish, or cancel one."),
    "QUOTA_DAILY_EXCEEDED": ErrorSpec(429, "The daily run quota resets at 00:00 UTC."),
    "QUOTA_MONTHLY_EXCEEDED": ErrorSpec(
        429, "The monthly run quota resets on the 1st (UTC); or upgrade the plan."
    ),
    "BACKEND_UNAVAILABLE": ErrorSpec(503, "Retry later."),
    "SCHEDULER_NOT_CONFIGURED": ErrorSpec(503, "Operators: set CLOUD_TASKS_QUEUE and SCHEDULER_TARGET_URL."),
    "INTERNAL": ErrorSpec(500, "Retry later; report the request id if it persists."),
}


@dataclass(frozen=True)
class RunErrorSpec:
    """One run-error entry: whether the failure is retried (transient) and what the org or operator can do."""

    transient: bool
    action: str


# Why a run or step failed (error_code on run and step rows): one table, read by the worker's classification, the
# provider suite (every fault class of every provider lands here) and the docs. Codes are stable.
RUN_ERRORS: dict[str, RunErrorSpec] = {
    # The provider's side: retried with backoff inside the step, then by Pub/Sub redelivery.
    "PROVIDER_RATE_LIMITED": RunErrorSpec(True, "None: retried after the provider's Retry-After."),
    "PROVIDER_UNAVAILABLE": RunErrorSpec(True, "None: retried; persistent 5xx is the provider's outage."),
    "PROVIDER_TIMEOUT": RunErrorSpec(
        True, "None: retried; lasting timeouts point at the network or base_url."
    ),
    "PROVIDER_UNREACHABLE": RunErrorSpec(True, "None: retried (connection refused or reset, cut body)."),
    "PROVIDER_BAD_RESPONSE": RunErrorSpec(
        True, "If it lasts, check metadata.base_url: the answer is not JSON."
    ),
    # The provider refused: retrying cannot help.
    "PROVIDER_AUTH_FAILED": RunErrorSpec(
        False, "Store a valid credential with the rights the provider needs."
    ),
    "PROVIDER_PERMISSION_DENIED": RunErrorSpec(False, "Grant the credential read access to the source."),
    "PROVIDER_REQUEST_REJECTED": RunErrorSpec(
        False, "Report it: the provider refused the request as malformed."
    ),
    "PROVIDER_BAD_DATA": RunErrorSpec(False, "Report it: the provider's data breaks its documented shape."),
    "PROVIDER_PAGING_LOOP": RunErrorSpec(False, "Report it: the provider repeated a page cursor."),
    "PROVIDER_PAGING_BROKEN": RunErrorSpec(
        False, "Report it: the provider announced a page it did not name."
    ),
    "BASE_URL_NOT_ALLOWED": RunErrorSpec(
        False, "Point metadata.base_url at an allowed host on port 443 that resolves to public addresses."
    ),
    "CREDENTIAL_INVALID": RunErrorSpec(False, "Store the credential again as the message says."),
    "CREDENTIAL_UNREADABLE": RunErrorSpec(
        False, "Store the credential again (it does not decrypt for this org)."
    ),
    "INTEGRATION_NOT_CONFIGURED": RunErrorSpec(False, "Store an active credential for the provider."),
    "INVALID_BILLING_EXPORT_TABLE": RunErrorSpec(
        False, "Name the export table exactly, in the org's own billing project, in the credential."
    ),
    "BILLING_EXPORT_NOT_FOUND": RunErrorSpec(False, "Check the export table exists and the name is right."),
    "BILLING_EXPORT_QUERY_FAILED": RunErrorSpec(
        False, "Report it with the message: the export query was refused."
    ),
    "BYTES_BILLED_LIMIT": RunErrorSpec(False, "Operators: the export read would bill more than the cap."),
    "INVALID_DATE_RANGE": RunErrorSpec(False, "Ask for end_date on or after start_date."),
    "PRICE_TABLE_INVALID": RunErrorSpec(
        False, "Operators: fix configs/prices/llm_prices.yml as the message says."
    ),
    # Our side.
    "STEP_TIMEOUT": RunErrorSpec(True, "None: the step is retried with its time budget."),
    "RUN_TIMEOUT": RunErrorSpec(False, "Start the run again; a shorter date range finishes sooner."),
    "SLICE_BUSY": RunErrorSpec(
        True, "None: another delivery is loading the slice; Pub/Sub delivers it again later."
    ),
    "WAREHOUSE_UNAVAILABLE": RunErrorSpec(True, "None: retried while BigQuery is unavailable."),
    "WAREHOUSE_CONTENDED": RunErrorSpec(True, "None: retried after concurrent updates."),
    "KMS_UNAVAILABLE": RunErrorSpec(True, "None: retried while Cloud KMS is unavailable."),
    "BACKEND_UNAVAILABLE": RunErrorSpec(True, "None: retried while a Google service is unavailable."),
    "BAD_MESSAGE": RunErrorSpec(False, "Operators: a run message could not be decoded (dropped)."),
    "PIPELINE_NOT_FOUND": RunErrorSpec(False, "The pipeline no longer exists; start another."),
    "PUBLISH_FAILED": RunErrorSpec(False, "Start the run again: it could not be queued."),
    "REPLAY_PUBLISH_FAILED": RunErrorSpec(False, "Replay the dead letter again once Pub/Sub answers."),
    # The alert notifier (cost-alerts): retried by Pub/Sub with backoff, then held on cost-alerts-dead-letter.
    "ALERT_PENDING": RunErrorSpec(
        True, "None: another delivery is recording an alert of the load; redelivered until it is done."
    ),
    "WEBHOOK_UNREACHABLE": RunErrorSpec(True, "Check the org's webhook URL answers within 10 s."),
    "WEBHOOK_REFUSED": RunErrorSpec(True, "The org's webhook must answer 2xx to a correctly signed POST."),
    "INTERNAL_ERROR": RunErrorSpec(False, "Report it with the run id: the operators have the details."),
}


class ApiError(Exception):
    """An error answered to an HTTP caller as {"error": {"code", "message"}}."""

    def __init__(self, code: str, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = CATALOGUE[code].status
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class PipelineError(Exception):
    """Base of failures raised while a run executes."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class TransientError(PipelineError):
    """Worth retrying: 429, 5xx, timeouts, a stand-in briefly down."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None):
        super().__init__(code, message)
        self.retry_after = retry_after


class TerminalError(PipelineError):
    """Retrying cannot help: bad credentials, a refused request, bad data. The run is FAILED with this reason."""


def classify_unexpected(exc: BaseException) -> PipelineError:
    """Map an exception no layer classified: backend outages are transient, anything else is an internal error."""
    transient_names = {
        "ServiceUnavailable",
        "InternalServerError",
        "TooManyRequests",
        "DeadlineExceeded",
        "GatewayTimeout",
        "BadGateway",
        "ConnectionError",
        "ConnectTimeout",
        "ReadTimeout",
        "Timeout",
        "RetryError",
    }
    if isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__name__ in transient_names:
        return TransientError("BACKEND_UNAVAILABLE", f"A backend was unavailable ({type(exc).__name__}).")
    return TerminalError(
        "INTERNAL_ERROR", "An internal error stopped the run; the operators have the details."
    )
