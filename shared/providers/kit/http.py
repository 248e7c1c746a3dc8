"""Provider HTTP calls: one place that classifies failures (retry, transient, terminal) and follows page cursors."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from shared.platform.errors import TerminalError, TransientError
from shared.providers.kit.address_guard import guarded_transport
from shared.providers.kit.scrub import scrub

# One request never waits longer than this even when the step has more time left.
REQUEST_TIMEOUT_SECONDS = 60.0
_MAX_MESSAGE_CHARS = 300
# How much of the provider's own error message an org sees: enough for "Invalid value for 'group_by'", short of a
# body that repeats the request back.
_MAX_PROVIDER_TEXT = 160
# A provider's structured error type or code ("invalid_request_error", "rate_limit_exceeded") is shown as it is
# only when it looks like one; anything else is free text and goes through the excerpt rules.
_ERROR_TOKEN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Refusals that mean "not now" rather than "no": request timeout (408), too early (425), 429 (and 5xx).
_RETRIABLE_4XX = (408, 425, 429)
# What the org must do about a refused credential, by status.
_AUTH_ADVICE = {
    401: "The provider refused the stored key (invalid, revoked or expired): store a valid key, run again.",
    403: "The stored key may not read usage and cost reports: store an organization admin key and run again.",
}
# Key-shaped tokens a provider may echo back in an error message ("Incorrect API key provided: sk-...").
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, code: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret (in its common encodings and fragments) and every key-shaped token replaced, cut to
    a loggable length."""
    return _KEY_LIKE.sub("[REDACTED]", scrub(text, secrets))[:_MAX_MESSAGE_CHARS]


def _secrets_in(headers: Mapping[str, str]) -> list[str]:
    found = []
    for name, value in headers.items():
        if name.lower() in ("authorization", "x-api-key", "api-key", "proxy-authorization"):
            scheme, _, token = value.partition(" ")
            found += [value, token or scheme]  # the bare token after "Bearer "
            if scheme.lower() == "basic" and token:
                found += _basic_credentials(token)
    return [s for s in found if len(s) >= 4]


def _basic_credentials(token: str) -> list[str]:
    """`user:password` and the password inside a Basic auth token: a provider may echo them decoded."""
    try:
        pair = base64.b64decode(token, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return []
    return [pair, pair.partition(":")[2]]


def _provider_message(response: httpx.Response, secrets: list[str]) -> str:
    """What an org may read of the provider's answer: the structured error type/code and a short, scrubbed excerpt
    of its message (OpenAI/Anthropic shape {"error": {"message", "type", "code"}}). Any other body is never shown:
    it may echo the request (its headers, the key) in ways no scrubber anticipates."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict):
        kind = response.headers.get("Content-Type", "no content type").split(";")[0][:60]
        return f"{response.reason_phrase or 'error'} (a {kind} body, not shown)"
    labels = [
        str(error[key])
        for key in ("type", "code")
        if isinstance(error.get(key), str) and _ERROR_TOKEN.fullmatch(error[key])
    ]
    # Scrub the whole message before cutting it: a cut first could leave a secret's head longer than a fragment.
    text = scrub(str(error.get("message") or ""), secrets)
    text = text if len(text) <= _MAX_PROVIDER_TEXT else text[: _MAX_PROVIDER_TEXT - 3] + "..."
    return " ".join([f"[{', '.join(labels)}]"] * bool(labels) + [text]).strip() or "no message"


def _classify(response: httpx.Response, secrets: list[str]) -> dict:
    """The parsed JSON body of a 2xx response; raise _Retry or TerminalError for everything else."""
    status = response.status_code
    where = f"{response.request.method} {response.request.url.host}{response.request.url.path}"
    if status in _RETRIABLE_4XX or status >= 500:
        code = {429: "PROVIDER_RATE_LIMITED", 408: "PROVIDER_TIMEOUT"}.get(status, "PROVIDER_UNAVAILABLE")
        message = redact(f"{where} answered {status}: {_provider_message(response, secrets)}", secrets)
        raise _Retry(code, message, parse_retry_after(response.headers.get("Retry-After")))
    if status in _AUTH_ADVICE:
        message = redact(f"{where} answered {status}: {_provider_message(response, secrets)}", secrets)
        raise TerminalError("PROVIDER_AUTH_FAILED", f"{message.rstrip('.')}. {_AUTH_ADVICE[status]}")
    if not 200 <= status < 300:
        # Redirects are not followed on purpose: the egress allow-list vetted this host, not the next one.
        message = redact(f"{where} answered {status}: {_provider_message(response, secrets)}", secrets)
        raise TerminalError("PROVIDER_REQUEST_REJECTED", message)
    try:
        body = json.loads(response.content, parse_float=Decimal)  # money never passes through float
    except (ValueError, UnicodeDecodeError):
        # Usually a cut-off transfer or a proxy's error page: worth a retry. The content type (never the body:
        # it may echo the request) helps an operator spot a base_url that points at something else.
        kind = response.headers.get("Content-Type", "no content type").split(";")[0][:60]
        raise _Retry(
            "PROVIDER_BAD_RESPONSE", f"{where} answered {status} with a body that is not JSON ({kind})"
        ) from None
    if not isinstance(body, dict):
        raise _Retry("PROVIDER_BAD_RESPONSE", f"{where} answered {status} with JSON that is not an object")
    return body


def _attempt(client: httpx.Client, url: str, params: Any, headers: Mapping[str, str], timeout: float) -> dict:
    secrets = _secrets_in(headers)
    try:
        response = client.get(url, params=params, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise _Retry("PROVIDER_TIMEOUT", f"request timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        # Connection refused/reset, truncated body (RemoteProtocolError): the provider or the network blinked.
        raise _Retry("PROVIDER_UNREACHABLE", redact(f"{type(exc).__name__}: {exc}", secrets)) from None
    return _classify(response, secrets)


def get_json(
    client: httpx.Client,
    url: str,
    params: Any,
    headers: Mapping[str, str],
    *,
    deadline: float,
    max_attempts: int = 4,
    initial_backoff: float = 1.0,
    max_backoff: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[], float] = random.random,
    request_timeout: float | None = None,
) -> dict:
    """GET `url` and return its JSON object, retrying 429/5xx/timeouts with capped backoff within `deadline`."""
    request_timeout = REQUEST_TIMEOUT_SECONDS if request_timeout is None else request_timeout
    last: _Retry | None = None
    attempts = 0
    for attempt in range(max_attempts):
        remaining = deadline - clock()
        if remaining <= 0:
            break
        attempts += 1
        try:
            return _attempt(client, url, params, headers, min(request_timeout, remaining))
        except _Retry as failure:
            last = failure
        if attempt + 1 == max_attempts:
            break
        # Full jitter in the upper half keeps retries of many runs from arriving in lock-step.
        backoff = min(max_backoff, initial_backoff * 2**attempt) * (0.5 + jitter() / 2)
        delay = max(backoff, last.retry_after or 0.0)
        if clock() + delay >= deadline:
            # Waiting would overrun the step: hand the wait to the caller (Pub/Sub redelivery) instead.
            raise TransientError(last.code, f"{last.message}; no time left to retry", retry_after=delay)
        sleep(delay)
    if last is None:
        raise TransientError("PROVIDER_TIMEOUT", "the step deadline passed before the request could be sent")
    raise TransientError(
        last.code, f"{last.message} (gave up after {attempts} attempts)", retry_after=last.retry_after
    )


def iterate_pages(fetch_page: Callable[[str | None], dict], *, max_pages: int = 10_000) -> Iterator[dict]:
    """Yield pages from `fetch_page(cursor)` following `has_more`/`next_page`; refuse a cursor seen before."""
    seen: set[str] = set()
    cursor: str | None = None
    for _ in range(max_pages):
        page = fetch_page(cursor)
        yield page
        if not page.get("has_more"):
            return
        cursor = page.get("next_page")
        if not isinstance(cursor, str) or not cursor:
            raise TerminalError(
                "PROVIDER_PAGING_BROKEN", "the provider said has_more but gave no next_page cursor"
            )
        if cursor in seen:
            # A provider that hands back an old cursor would loop forever and double every row after it.
            raise TerminalError("PROVIDER_PAGING_LOOP", "the provider repeated a page cursor; stopping")
        seen.add(cursor)
    raise TerminalError("PROVIDER_PAGING_LOOP", f"more than {max_pages} pages; stopping")


def provider_client(ctx) -> httpx.Client:
    """The HTTP client of a step's provider requests: the step's transport (tests), else, outside local, one that
    dials only checked public addresses (the stack's sandbox is on loopback, so local skips it); no redirects, as
    the allow-list vetted this host and a redirect could point anywhere."""
    transport = ctx.http_transport
    if transport is None and not ctx.settings.is_local:
        transport = guarded_transport()
    return httpx.Client(transport=transport, follow_redirects=False)


def paged_data(
    ctx, url: str, params: list[tuple[str, str]], headers: dict, max_attempts: int
) -> Iterator[dict]:
    """Every item of every page's `data` list at `url` (an OpenAI/Anthropic admin report), within the step's
    deadline, sleep and request timeout (`ctx`, a StepContext); the cursor goes back as `page`."""
    with provider_client(ctx) as client:

        def fetch_page(cursor: str | None) -> dict:
            page_params = params + [("page", cursor)] if cursor else params
            return get_json(
                client,
                url,
                page_params,
                headers,
                deadline=ctx.deadline,
                max_attempts=max_attempts,
                sleep=ctx.sleep,
                request_timeout=ctx.request_timeout,
            )

        for page in iterate_pages(fetch_page):
            items = page.get("data")
            if not isinstance(items, list):
                raise TerminalError("PROVIDER_BAD_DATA", f"{url} answered a page without a 'data' list")
            yield from items
