"""HTTP function `api`: the run API (auth, checks, run row, publish). Thin: all logic lives in shared/."""

import functions_framework

from shared.api.app import handle


@functions_framework.http
def api(request):
    """Entry point: answer one HTTP request."""
    return handle(request)
