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
    "NOT_IMPLEMENTED": ErrorSpec(501, "This operation is not available yet."),
    "PAYLOAD_TOO_LARGE": ErrorSpec(413, "Send a body of at most 16 KiB."),
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
