"""HTTP function `api`: the run API (auth, checks, run row, publish). Thin: all logic lives in shared/."""

import functions_framework

from shared.api.app import handle
from shared.settings import get_settings

# Validate settings at cold start: in stage/prod the instance refuses to start without a root key and a key
# pepper of at least 32 characters, instead of failing (or worse, answering) on its first request.
get_settings()


@functions_framework.http
def api(request):
    """Entry point: answer one HTTP request."""
    return handle(request)
