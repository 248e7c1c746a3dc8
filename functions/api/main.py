"""HTTP function `api`: the run API (auth, checks, run row, publish). Thin: all logic lives in shared/."""

import functions_framework

from shared.api.app import handle, unexpected_failure
from shared.platform.logs import log_context, trace_fields
from shared.platform.settings import get_settings

# Validate settings at cold start: in stage/prod the instance refuses to start without a root key and a key
# pepper of at least 32 characters, instead of failing (or worse, answering) on its first request.
get_settings()


@functions_framework.http
def api(request):
    """Entry point: answer one HTTP request (its log lines carry the request's trace and execution id)."""
    try:
        headers = request.headers
        trace = trace_fields(
            get_settings().project, headers.get("traceparent"), headers.get("X-Cloud-Trace-Context")
        )
        with log_context(execution_id=headers.get("Function-Execution-Id"), **trace):
            return handle(request)
    except Exception as exc:  # noqa: BLE001 - the framework would answer an HTML 500 and log a traceback
        return unexpected_failure(request, exc)
