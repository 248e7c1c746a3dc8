"""Unit tests of shared.providers.kit.http: how every provider failure is classified, retried and reported."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from shared.platform.errors import TerminalError, TransientError
from shared.providers.kit.http import get_json, iterate_pages, parse_retry_after
from tests.kit.secrets import echo_forms, leaks

SECRET = "sk-admin-unit-SECRET-0123456789"
HEADERS = {"Authorization": f"Bearer {SECRET}"}
URL = "https://api.openai.com/v1/organization/costs"


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _script(*answers):
    """An httpx handler answering each request with the next scripted Response, or raising the next exception."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, calls


def _get(handler, *, deadline_in: float = 300.0, max_attempts: int = 4, clock: FakeClock | None = None):
    clock = clock or FakeClock()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return get_json(
            client,
            URL,
            [("limit", "7")],
            HEADERS,
            deadline=clock.now + deadline_in,
            max_attempts=max_attempts,
            sleep=clock.sleep,
            clock=clock,
            jitter=lambda: 1.0,
        )


def _error(status: int, message: str, **headers) -> httpx.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return httpx.Response(status, json=body, headers=headers)


OK = httpx.Response(200, json={"object": "page", "data": [], "has_more": False})


def test_success_parses_numbers_as_decimal():
    handler, _ = _script(httpx.Response(200, content=b'{"amount": 0.1000000000000000055}'))
    assert _get(handler) == {"amount": Decimal("0.1000000000000000055")}


def test_429_honours_retry_after_seconds_then_succeeds():
    clock = FakeClock()
    handler, calls = _script(_error(429, "Rate limit reached", **{"Retry-After": "7"}), OK)
    assert _get(handler, clock=clock)["object"] == "page"
    assert len(calls) == 2 and clock.sleeps == [7.0]


def test_retry_after_http_date_is_understood():
    now = datetime(2024, 11, 5, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 05 Nov 2024 12:00:09 GMT", now=now) == 9.0
    assert parse_retry_after("Tue, 05 Nov 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_with_capped_exponential_backoff(status):
    clock = FakeClock()
    handler, calls = _script(
        _error(status, "upstream"), _error(status, "upstream"), _error(status, "upstream"), OK
    )
    assert _get(handler, clock=clock)["object"] == "page"
    assert len(calls) == 4 and clock.sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (_error(429, "Rate limit reached"), "PROVIDER_RATE_LIMITED"),
        (_error(503, "overloaded"), "PROVIDER_UNAVAILABLE"),
        (httpx.ReadTimeout("read timed out"), "PROVIDER_TIMEOUT"),
        (httpx.ConnectTimeout("connect timed out"), "PROVIDER_TIMEOUT"),
        (httpx.ConnectError("connection refused"), "PROVIDER_UNREACHABLE"),
        (
            httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
            "PROVIDER_UNREACHABLE",
        ),
        (httpx.Response(200, content=b"<html>gateway error</html>"), "PROVIDER_BAD_RESPONSE"),
        (httpx.Response(200, content=b'{"object": "page", "data": [{"obj'), "PROVIDER_BAD_RESPONSE"),
        (httpx.Response(200, json=["not", "an", "object"]), "PROVIDER_BAD_RESPONSE"),
    ],
)
def test_retriable_failures_become_transient_after_max_attempts(answer, code):
    clock = FakeClock()
    handler, calls = _script(answer)
    with pytest.raises(TransientError) as caught:
        _get(handler, max_attempts=3, clock=clock)
    assert caught.value.code == code
    assert len(calls) == 3 and len(clock.sleeps) == 2
    assert SECRET not in caught.value.message


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "PROVIDER_AUTH_FAILED"),
        (403, "PROVIDER_AUTH_FAILED"),
        (400, "PROVIDER_REQUEST_REJECTED"),
        (404, "PROVIDER_REQUEST_REJECTED"),
        (422, "PROVIDER_REQUEST_REJECTED"),
        (302, "PROVIDER_REQUEST_REJECTED"),
    ],
)
def test_refusals_are_terminal_at_once_and_carry_the_provider_message(status, code):
    handler, calls = _script(_error(status, "Invalid value for 'group_by'."))
    with pytest.raises(TerminalError) as caught:
        _get(handler)
    assert caught.value.code == code
    assert len(calls) == 1  # retrying a refusal cannot help
    assert "Invalid value for 'group_by'." in caught.value.message and str(status) in caught.value.message


@pytest.mark.parametrize("status", [401, 400, 500])
def test_secret_echoed_by_the_provider_never_reaches_the_message(status):
    echoed = f"Incorrect API key provided: {SECRET}. Also seen: sk-proj-abcdef123456 and {HEADERS['Authorization']}"
    handler, _ = _script(_error(status, echoed))
    with pytest.raises((TerminalError, TransientError)) as caught:
        _get(handler, max_attempts=1)
    assert SECRET not in caught.value.message and SECRET not in str(caught.value)
    assert "sk-proj-abcdef123456" not in caught.value.message
    assert "[REDACTED]" in caught.value.message


def test_retry_after_beyond_the_deadline_hands_the_wait_back_at_once():
    clock = FakeClock()
    handler, calls = _script(_error(429, "slow down", **{"Retry-After": "120"}), OK)
    with pytest.raises(TransientError) as caught:
        _get(handler, deadline_in=60, clock=clock)
    assert caught.value.code == "PROVIDER_RATE_LIMITED" and caught.value.retry_after == 120.0
    assert len(calls) == 1 and clock.sleeps == []


def test_expired_deadline_sends_nothing():
    handler, calls = _script(OK)
    with pytest.raises(TransientError):
        _get(handler, deadline_in=0)
    assert calls == []


def test_iterate_pages_follows_cursors_until_has_more_is_false():
    pages = {
        None: {"has_more": True, "next_page": "a"},
        "a": {"has_more": True, "next_page": "b"},
        "b": {"has_more": False, "next_page": None},
    }
    asked = []
    result = list(iterate_pages(lambda cursor: asked.append(cursor) or pages[cursor]))
    assert asked == [None, "a", "b"] and len(result) == 3


def test_iterate_pages_refuses_a_repeated_cursor():
    pages = {
        None: {"has_more": True, "next_page": "a"},
        "a": {"has_more": True, "next_page": "b"},
        "b": {"has_more": True, "next_page": "a"},
    }
    with pytest.raises(TerminalError) as caught:
        list(iterate_pages(lambda cursor: pages[cursor]))
    assert caught.value.code == "PROVIDER_PAGING_LOOP"


def test_iterate_pages_refuses_has_more_without_a_cursor():
    with pytest.raises(TerminalError) as caught:
        list(iterate_pages(lambda cursor: {"has_more": True, "next_page": None}))
    assert caught.value.code == "PROVIDER_PAGING_BROKEN"


@pytest.mark.parametrize(("status", "code"), [(408, "PROVIDER_TIMEOUT"), (425, "PROVIDER_UNAVAILABLE")])
def test_not_now_refusals_are_retried_not_terminal(status, code):
    clock = FakeClock()
    handler, calls = _script(_error(status, "try again"), OK)
    assert _get(handler, clock=clock)["object"] == "page" and len(calls) == 2
    handler, calls = _script(_error(status, "try again"))
    with pytest.raises(TransientError) as caught:
        _get(handler, max_attempts=2)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("status", "advice"),
    [(401, "invalid, revoked or expired"), (403, "store an organization admin key")],
)
def test_refused_credentials_tell_the_org_what_to_fix(status, advice):
    handler, _ = _script(_error(status, f"Incorrect API key provided: {SECRET}."))
    with pytest.raises(TerminalError) as caught:
        _get(handler)
    assert caught.value.code == "PROVIDER_AUTH_FAILED" and advice in caught.value.message
    assert SECRET not in caught.value.message and ".." not in caught.value.message


def test_a_body_that_is_not_json_names_its_content_type_but_not_its_text():
    page = httpx.Response(
        200, content=b"<html>login " + SECRET.encode(), headers={"Content-Type": "text/html"}
    )
    handler, _ = _script(page)
    with pytest.raises(TransientError) as caught:
        _get(handler, max_attempts=1)
    assert "(text/html)" in caught.value.message and "login" not in caught.value.message


def test_the_request_timeout_is_the_callers_when_given():
    timeouts = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        return OK

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        get_json(client, URL, [], HEADERS, deadline=10**9, request_timeout=0.25)
        get_json(client, URL, [], HEADERS, deadline=10**9)
    assert timeouts == [0.25, 60.0]


@pytest.mark.parametrize("form", sorted(echo_forms(SECRET)))
def test_a_key_echoed_in_any_common_form_never_reaches_the_message(form):
    echoed = f"Incorrect API key provided: {echo_forms(SECRET)[form]}."
    handler, _ = _script(_error(401, echoed))
    with pytest.raises(TerminalError) as caught:
        _get(handler)
    assert leaks({"message": caught.value.message}, {"key": SECRET}) == []
    assert "[REDACTED]" in caught.value.message and "[invalid_request_error]" in caught.value.message


def test_a_basic_auth_password_echoed_decoded_is_scrubbed():
    token = base64.b64encode(b"org-1:hunter2-basic-password").decode()
    handler, _ = _script(_error(400, "user org-1 password hunter2-basic-password refused"))
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(TerminalError) as caught,
    ):
        get_json(client, URL, [], {"Authorization": f"Basic {token}"}, deadline=10**9)
    assert "hunter2-basic" not in caught.value.message and "[REDACTED]" in caught.value.message


def test_an_error_body_that_is_not_the_providers_shape_is_not_shown():
    handler, _ = _script(httpx.Response(400, content=b"<html>echo: Bearer " + SECRET.upper().encode()))
    with pytest.raises(TerminalError) as caught:
        _get(handler)
    assert "echo" not in caught.value.message and "body, not shown" in caught.value.message


def test_a_long_provider_message_is_cut_to_an_excerpt():
    handler, _ = _script(_error(400, "x" * 1000))
    with pytest.raises(TerminalError) as caught:
        _get(handler)
    assert caught.value.message.count("x") <= 160
