"""A hello-world HTTP function: the baseline the run API's throughput and latency are compared with."""

import functions_framework


@functions_framework.http
def hello(request):
    """Answer every request with a fixed JSON body, as small as the run API's 202."""
    return {"status": "ok"}, 202
