"""Extreme values in every request header the code reads (not only the OpenAPI parameters), against the served
`api`: each answer is JSON with a catalogue code and never a server error, and the API stays healthy."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from shared.platform.errors import CATALOGUE
from tests.kit.orgs import onboard
from tests.kit.rawhttp import request

pytestmark = pytest.mark.stack

TRACE_ID = b"4bf92f3577b34da6a3ce929d0e0e4736"
# Under gunicorn's 8,190-byte limit on a header line, so each reaches the function (the server itself refuses
# longer lines and control characters: test_what_the_server_refuses_never_reaches_the_function).
VALUES = {
    "empty": b"",
    "long": b"k" * 8000,
    "4301 digits": b"9" * 4301,  # one over Python's limit on int() of a string
    "8000 digits": b"9" * 8000,
    "negative": b"-1",
    "2**64": b"18446744073709551616",
    "latin-1": "clé ÿ".encode("latin-1"),
    "utf-8": "鍵🔑".encode(),
    "year 1": b"0001-01-01T00:00:00+23:59",
    "year 9999": b"9999-12-31T23:59:59-23:59",
    "cloud trace, huge span": TRACE_ID + b"/" + b"9" * 4301 + b";o=1",
    "traceparent, all f": b"ff-" + b"f" * 32 + b"-" + b"f" * 16 + b"-ff",
    "bearer": b"Bearer " + b"e" * 5000,
    "json, huge charset": b"application/json; charset=" + b"x" * 5000,
}
# Every header shared/ and functions/ read (request.headers, headers.get), and routes that read it.
HEADER_ROUTES = {
    "X-API-Key": ["list", "run"],
    "X-CA-Root-Key": ["trigger"],
    "Authorization": ["trigger"],
    "traceparent": ["health", "list"],
    "X-Cloud-Trace-Context": ["health", "list"],
    "Function-Execution-Id": ["health", "run"],
    "Content-Type": ["run", "trigger"],
    "X-CloudScheduler-ScheduleTime": ["trigger"],
    "If-Match": ["saas_change"],
}


@pytest.fixture(scope="module")
def routes(stack):
    """Each route as (method, path, headers, body), with valid keys: a header under test replaces its own.
    The run body is refused after authentication (no run starts); the trigger names an org that does not exist."""
    org = onboard(stack.settings(), prefix="hf")
    key, root = {"X-API-Key": org["api_key"]}, {"X-CA-Root-Key": stack.secrets["root_key"]}
    as_json = {"Content-Type": "application/json"}
    trigger_body = b'{"pipeline_id": "openai/cost/usage_cost", "org_slug": "nobody_here"}'
    plans = f"/api/v1/subscriptions/{org['org_slug']}/saas"
    plan = httpx.post(
        f"{stack.api_url}{plans}",
        json={
            "vendor": "Slack",
            "product": "Slack",
            "plan": "Pro",
            "seats": 3,
            "unit_price": "8.75",
            "currency": "USD",
            "billing_cycle": "monthly",
            "start_date": "2025-11-01",
        },
        headers=key,
        timeout=30,
    ).json()
    return {
        "health": ("GET", "/health", {}, b""),
        "list": ("GET", "/api/v1/pipelines/runs", key, b""),
        "run": (
            "POST",
            f"/api/v1/pipelines/run/{org['org_slug']}/openai/cost/usage_cost",
            key | as_json,
            b'{"date": "2025-02-30"}',
        ),
        "trigger": ("POST", "/api/v1/scheduler/trigger", root | as_json, trigger_body),
        # A change the values under test never apply (none is a version): refused, or 409, never a 5xx.
        "saas_change": ("PATCH", f"{plans}/{plan['subscription_id']}", key | as_json, b'{"seats": 5}'),
    }


@pytest.fixture(scope="module", autouse=True)
def api_log(stack):
    """The api function's log, and where it stood before this module's first request."""
    path = stack.data_dir / "logs" / "api.log"
    return path, path.stat().st_size


def _problem(status: int, content_type: str, body: bytes) -> str | None:
    """What is wrong with an answer: not JSON, an error code not in the catalogue or with another status, a
    server error other than 503 BACKEND_UNAVAILABLE; None if nothing."""
    if not content_type.startswith("application/json"):
        return f"{status} {content_type}: {body[:120]!r}"
    if status < 400:
        return None
    code = json.loads(body).get("error", {}).get("code")
    if code not in CATALOGUE or CATALOGUE[code].status != status:
        return f"{status} {code}: not in the catalogue with this status"
    if status >= 500 and code != "BACKEND_UNAVAILABLE":
        return f"{status} {code}"
    return None


@pytest.mark.parametrize("header", list(HEADER_ROUTES))
def test_every_header_value_is_answered_from_the_catalogue(stack, routes, header):
    cases = []
    for route in HEADER_ROUTES[header]:
        method, path, headers, body = routes[route]
        others = {name: value for name, value in headers.items() if name.lower() != header.lower()}
        if header == "Authorization":
            others.pop("X-CA-Root-Key")  # else the root key decides and Authorization is never read
        cases += [
            (f"{route} {header}={name}", method, path, {**others, header: value}, body)
            for name, value in VALUES.items()
        ]

    def problem(case) -> str | None:
        label, method, path, headers, body = case
        found = _problem(*request(stack.api_url, method, path, headers, body))
        return f"{label}: {found}" if found else None

    with ThreadPoolExecutor(4) as pool:  # independent requests: in parallel, as clients would send them
        failures = [found for found in pool.map(problem, cases) if found]
    assert not failures, "\n".join(failures)


# Content-Length and Transfer-Encoding frame the body: well-formed extremes reach the function.
FRAMING = [
    ({"Content-Length": "0"}, b""),
    ({"Content-Length": "16384"}, b" " * 16384),
    ({"Content-Length": "16385"}, b" " * 16385),
    ({"Content-Length": "18446744073709551616"}, b"{}"),
    ({"Content-Length": "9" * 4000}, b"{}"),
    ({"Transfer-Encoding": "chunked"}, b"2\r\n{}\r\n0\r\n\r\n"),
    ({"Transfer-Encoding": "chunked"}, b"zz\r\n{}\r\n0\r\n\r\n"),
    ({"Transfer-Encoding": "chunked"}, b"1\r\n{}\r\n0\r\n\r\n"),
]


@pytest.mark.parametrize("route", ["health", "run"])
def test_body_framing_extremes_are_answered_from_the_catalogue(stack, routes, route):
    method, path, headers, _ = routes[route]
    failures = []
    for framing, body in FRAMING:
        problem = _problem(*request(stack.api_url, method, path, {**headers, **framing}, body))
        if problem:
            failures.append(f"{route} {framing}: {problem}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "header, value",
    [
        ("X-API-Key", b"9" * 10_000),  # over gunicorn's line limit: 431
        ("X-API-Key", b"a\x00b"),
        ("Content-Length", b"-1"),
        ("Content-Length", b"abc"),
        ("Transfer-Encoding", b"gzip"),
    ],
)
def test_what_the_server_refuses_never_reaches_the_function(stack, header, value):
    """Malformed HTTP is refused by gunicorn before the function runs (its own 4xx): still not a server error."""
    status, _, _ = request(stack.api_url, "GET", "/health", {header: value})
    assert 400 <= status < 500


def test_the_api_stays_healthy_and_logged_no_traceback(stack, api_log):
    assert httpx.get(stack.api_url + "/health", timeout=60).status_code == 200
    path, start = api_log
    with path.open("rb") as log:
        log.seek(start)
        assert b"Traceback" not in log.read()
