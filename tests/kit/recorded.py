"""Recorded provider APIs for tests: pages served byte for byte by path and cursor through httpx's MockTransport,
and scripted faults (status codes, timeouts, truncated bodies) on the same seam."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import httpx


class RecordedApi:
    """An httpx handler serving recorded pages: per path, the files of its pages in order, picked by the `page`
    cursor a request carries (the first page has none; page N's cursor is page N-1's `next_page`). It keeps every
    request, and answers 404 (OpenAI-shaped) for a path it has no pages of."""

    def __init__(self, pages: Mapping[str, list[Path]], failures: list[httpx.Response] | None = None):
        self.failures = list(failures or [])  # answered first, one per request (e.g. a 429, then a 503)
        self.pages: dict[str, dict[str | None, bytes]] = {}
        for path, files in pages.items():
            bodies = [Path(file).read_bytes() for file in files]
            cursors = [None] + [json.loads(body)["next_page"] for body in bodies[:-1]]
            self.pages[path] = dict(zip(cursors, bodies, strict=True))
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            return self.failures.pop(0)
        by_cursor = next((v for path, v in self.pages.items() if request.url.path.endswith(path)), None)
        cursor = request.url.params.get("page")
        if by_cursor is None or cursor not in by_cursor:
            return httpx.Response(
                404, json={"error": {"message": f"no recorded page for {request.url.path}"}}
            )
        return httpx.Response(200, content=by_cursor[cursor], headers={"Content-Type": "application/json"})

    def transport(self) -> httpx.MockTransport:
        """The transport to give a step (StepContext.http_transport)."""
        return httpx.MockTransport(self)

    def requests_to(self, path: str) -> list[httpx.Request]:
        """The requests made to one recorded path, in order."""
        return [request for request in self.requests if request.url.path.endswith(path)]


# The fault classes every provider must classify as the run-error catalogue says (shared.platform.errors):
# name -> (the error class the step must raise, the codes that name that fault).
FAULT_CLASSES = {
    "429 with Retry-After": ("transient", {"PROVIDER_RATE_LIMITED"}),
    "5xx": ("transient", {"PROVIDER_UNAVAILABLE"}),
    "timeout": ("transient", {"PROVIDER_TIMEOUT"}),
    "truncated body": ("transient", {"PROVIDER_UNREACHABLE", "PROVIDER_BAD_RESPONSE"}),
    "401": ("terminal", {"PROVIDER_AUTH_FAILED"}),
    "403": ("terminal", {"PROVIDER_AUTH_FAILED", "PROVIDER_PERMISSION_DENIED"}),
}
RETRY_AFTER_SECONDS = 7


class HttpFault:
    """An httpx handler answering every request with one fault class; a provider that echoes the caller's key
    back in its error (OpenAI does: "Incorrect API key provided: sk-...") is imitated with `secret`."""

    def __init__(self, fault: str, secret: str):
        self.fault, self.secret, self.requests = fault, secret, []

    def _error(self, status: int, message: str, headers: dict | None = None) -> httpx.Response:
        body = {"error": {"message": f"{message} (key {self.secret})", "type": "scripted"}}
        return httpx.Response(status, json=body, headers=headers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fault == "429 with Retry-After":
            return self._error(429, "Rate limit reached", {"Retry-After": str(RETRY_AFTER_SECONDS)})
        if self.fault == "5xx":
            return self._error(503, "The server is overloaded")
        if self.fault == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if self.fault == "truncated body":
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        if self.fault == "401":
            return self._error(401, "Incorrect API key provided")
        if self.fault == "403":
            return self._error(403, "This key may not read usage")
        raise ValueError(f"unknown fault {self.fault!r}")


def warehouse_fault(fault: str) -> BaseException:
    """What the google-cloud clients raise for a fault class while reading a warehouse table (a 429/5xx/401/403
    answer becomes google.api_core's exception of that status; a timeout or a cut body is requests')."""
    import requests
    from google.api_core import exceptions

    statuses = {"429 with Retry-After": 429, "5xx": 503, "401": 401, "403": 403}
    if fault in statuses:
        return exceptions.from_http_status(statuses[fault], f"scripted {fault}")
    if fault == "timeout":
        return requests.exceptions.ReadTimeout("Read timed out.")
    if fault == "truncated body":
        return requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(0 bytes read)")
    raise ValueError(f"unknown fault {fault!r}")


def store_fault(fault: str) -> BaseException:
    """What the Firestore client raises for a fault class (gRPC statuses as google.api_core exceptions: a cut
    stream is INTERNAL "RST_STREAM")."""
    from google.api_core import exceptions

    errors = {
        "429 with Retry-After": exceptions.ResourceExhausted("scripted: quota exceeded"),
        "5xx": exceptions.ServiceUnavailable("scripted: unavailable"),
        "timeout": exceptions.DeadlineExceeded("scripted: deadline exceeded"),
        "truncated body": exceptions.InternalServerError("scripted: Received RST_STREAM with error code 2"),
        "401": exceptions.Unauthenticated("scripted: missing credentials"),
        "403": exceptions.PermissionDenied("scripted: permission denied"),
    }
    if fault not in errors:
        raise ValueError(f"unknown fault {fault!r}")
    return errors[fault]


class FailingClients:
    """(client, read_client) for a warehouse-table source whose every call raises `error`."""

    def __init__(self, error: BaseException):
        self.error, self.calls = error, 0

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            self.calls += 1
            raise self.error

        return fail

    def pair(self) -> tuple:
        return (self, None)
