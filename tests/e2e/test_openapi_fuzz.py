"""Schemathesis fuzzing of the served `api` function against shared/api/openapi.yaml (the file)."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
from collections import Counter
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.api.models import parse_run_body
from shared.api.openapi import OPENAPI_PATH, load_openapi
from shared.platform.errors import ApiError
from shared.platform.identifiers import is_org_slug, is_run_id
from shared.platform.settings import DEFAULT_CONFIG_DIR
from shared.worker.pipelines import load_pipelines
from tests.kit.orgs import onboard
from tests.kit.runs import cancel_run, start_run

# The fuzzer acts as root on every org (a trigger without a body schedules a run for each org with a credential; a
# replay of all dead letters and the reaper touch every org's runs): the module's warehouse holds its org only.
pytestmark = pytest.mark.stack

DOCUMENT = load_openapi()
# A fixed seed: schemathesis derives each operation's seed from it, so a failure replays (with derandomize).
SEED = 20261127
schema = schemathesis.openapi.from_path(
    str(OPENAPI_PATH), config=SchemathesisConfig.from_dict({"seed": SEED})
)
RUN_OPERATION = "runPipeline"
SAAS_PATH = re.compile(r"^/api/v1/subscriptions/\{org\}/saas")
ALERTS_PATH = re.compile(r"^/api/v1/alerts/\{org\}/")
BUDGET = {"name": "Fuzz", "currency": "USD", "amount": "100.00"}
# A plan of the fuzz org that well-formed generated ids become (changes and ends of it are fine).
SAAS_PLAN = {
    "vendor": "Slack",
    "product": "Slack",
    "plan": "Pro",
    "seats": 3,
    "unit_price": "8.75",
    "currency": "USD",
    "billing_cycle": "monthly",
}
PIPELINE_PATH = {"provider": "openai", "domain": "cost", "pipeline": "usage_cost"}
MAX_RANGE_DAYS = load_pipelines(DEFAULT_CONFIG_DIR)["openai/cost/usage_cost"].max_range_days
# Fixed, so a failure replays; deadline off, as the stack shares two cores with whatever else runs.
FUZZ_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def _error_code_documented(ctx, response, case):
    """An error's code must be one the document names (in backticks) for that operation and status."""
    if response.status_code < 400:
        return None
    operation = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]
    documented = operation["responses"].get(str(response.status_code))
    if documented is None:
        return None  # status_code_conformance reports it
    if "$ref" in documented:
        documented = DOCUMENT["components"]["responses"][documented["$ref"].rsplit("/", 1)[-1]]
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None  # not our error shape: content_type_conformance / response_schema_conformance report it
    assert f"`{code}`" in documented["description"], (
        f"{response.status_code} {code} is not documented for {case.operation.label}"
    )
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    _error_code_documented,
]

# Dates near today, so generated bodies reach accepted runs as well as the future / too-old refusals (the
# default strategy spans years 0001-9999, which the service refuses almost always).
_today = dt.datetime.now(dt.UTC).date()
schemathesis.openapi.format(
    "date", st.dates(_today - dt.timedelta(days=1200), _today + dt.timedelta(days=30)).map(str)
)


@pytest.fixture(scope="module")
def fuzz_org(stack):
    """An enterprise org (no run quotas), its OpenAI credential and two runs: one to read, one to cancel."""
    # A key the sandbox refuses: the fuzzer's accepted runs fail at their first provider call instead of pulling
    # up to 90 days through every step, which kept the shared emulator busy long after this module.
    created = onboard(stack.settings(), "enterprise", secret="sk-fuzz", prefix="fz")
    slug, key = created["org_slug"], created["api_key"]
    # Dates far back enough that the date strategy above rarely asks for them again (a duplicate is fine too).
    runs = {
        name: start_run(stack, created, {"date": (_today - dt.timedelta(days=days)).isoformat()})
        for name, days in (("read", 1050), ("cancel", 1051))
    }
    plan = httpx.post(
        f"{stack.api_url}/api/v1/subscriptions/{slug}/saas",
        json={**SAAS_PLAN, "start_date": (_today - dt.timedelta(days=1300)).isoformat()},
        headers={"X-API-Key": key},
        timeout=30,
    ).json()
    budget = httpx.post(
        f"{stack.api_url}/api/v1/alerts/{slug}/budgets", json=BUDGET, headers={"X-API-Key": key}, timeout=30
    ).json()
    yield {
        "slug": slug,
        "key": key,
        "root": stack.secrets["root_key"],
        "runs": runs,
        "saas_plan": plan["subscription_id"],
        "budget": budget["budget_id"],
    }
    # Runs the fuzzer started would keep the shared openai worker busy for later tests: cancel them.
    headers = {"X-API-Key": key}
    for status in ("PENDING", "RUNNING"):
        listed = httpx.get(
            f"{stack.api_url}/api/v1/pipelines/runs",
            params={"status": status, "limit": 100},
            headers=headers,
            timeout=30,
        ).json()
        for run in listed.get("runs", []):
            cancel_run(stack, created, run["pipeline_logging_id"])


def _key_headers(case, org: dict) -> dict[str, str]:
    """The key the operation's security scheme asks for (none for the meta routes)."""
    security = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()].get("security") or [{}]
    if "orgKey" in security[0]:
        return {"X-API-Key": org["key"]}
    if "rootKey" in security[0]:
        return {"X-CA-Root-Key": org["root"]}
    return {}


def _routable(case) -> bool:
    """False for path values that cannot reach the function as one segment (see the awkward-path test)."""
    # Values arrive percent-encoded: a newline never reaches the function (HTML 404 from Flask) and an encoded
    # '/' (or an empty value) decodes into another route's path.
    return not any(
        not value or "/" in value or "%0A" in value.upper() or "%2F" in value.upper()
        for value in map(str, (case.path_parameters or {}).values())
    )


def _aim_at_fuzz_org(case, org: dict) -> None:
    """Well-formed generated names become the fuzz org and its runs; malformed ones stay, to be refused."""
    params = case.path_parameters or {}
    aimed = (
        case.operation.definition.raw.get("operationId") == RUN_OPERATION
        or SAAS_PATH.match(case.operation.path)
        or ALERTS_PATH.match(case.operation.path)
    )
    if aimed and is_org_slug(params.get("org", "")):
        params["org"] = org["slug"]  # else every well-formed request would be 403 ORG_MISMATCH
    plan_id = params.get("subscription_id")
    if isinstance(plan_id, str) and re.fullmatch(r"\w+", plan_id, re.ASCII):  # others stay, to be refused
        params["subscription_id"] = org["saas_plan"]
    if case.operation.path.startswith("/api/v1/scheduler/") and isinstance(case.body, dict):
        case.body["org_slug"] = org["slug"]  # a trigger for every org would start runs of other tests' orgs
    budget_id = params.get("budget_id")
    if isinstance(budget_id, str) and re.fullmatch(r"\w+", budget_id, re.ASCII):
        params["budget_id"] = org["budget"]  # a DELETE of it makes the later ones 404, also documented
    run_id = params.get("pipeline_logging_id")
    if run_id is not None and is_run_id(run_id):
        params["pipeline_logging_id"] = org["runs"]["cancel" if case.method.upper() == "DELETE" else "read"]


# Date ranges of run requests the service accepted or found in flight: each one costs a reservation.
_reserved: Counter = Counter()


def _repeats_a_reservation(case, org: dict) -> bool:
    """True for a valid run request of the fuzz org whose dates were sent twice already."""
    if case.path_parameters != {"org": org["slug"], **PIPELINE_PATH}:
        return False
    try:  # the service's own parser tells which bodies reach a reservation; the others are cheap
        body = parse_run_body(json.dumps(case.body).encode(), MAX_RANGE_DAYS)
    except (ApiError, TypeError, ValueError):
        return False
    _reserved[body.date_range()] += 1
    # The generator repeats simple dates: an accepted run, then a duplicate (200); a third teaches nothing.
    return _reserved[body.date_range()] > 2


@schema.exclude(tag="saas").exclude(tag="alerts").parametrize()
@FUZZ_SETTINGS
def test_api_conforms_with_keys(case, stack, fuzz_org):
    """Every operation, with the right key: no 5xx; status, content type, body and headers as documented."""
    _call_with_key(case, stack, fuzz_org)


def _call_with_key(case, stack, fuzz_org) -> None:
    if not _routable(case):
        return
    _aim_at_fuzz_org(case, fuzz_org)
    if _repeats_a_reservation(case, fuzz_org):
        return
    case.call_and_validate(
        base_url=stack.api_url, headers=_key_headers(case, fuzz_org), checks=CHECKS, timeout=30
    )


# The SaaS plan operations without the coverage phase: their bodies' many bounded fields made it hundreds of
# boundary cases (+20 s); the generated examples still reach every status the operations document.
saas_schema = schemathesis.openapi.from_path(
    str(OPENAPI_PATH),
    config=SchemathesisConfig.from_dict({"seed": SEED, "phases": {"coverage": {"enabled": False}}}),
).include(tag="saas")


@saas_schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=15)
def test_saas_plan_operations_conform_with_keys(case, stack, fuzz_org):
    """The org's SaaS plan operations with its key: no 5xx; answers as documented."""
    _call_with_key(case, stack, fuzz_org)


# The budget and webhook operations likewise (their bodies' bounded fields), with fewer examples.
alerts_schema = schemathesis.openapi.from_path(
    str(OPENAPI_PATH),
    config=SchemathesisConfig.from_dict({"seed": SEED, "phases": {"coverage": {"enabled": False}}}),
).include(tag="alerts")


@alerts_schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=5)
def test_alert_operations_conform_with_keys(case, stack, fuzz_org):
    """The org's budget and webhook operations with its key: no 5xx; answers as documented."""
    _call_with_key(case, stack, fuzz_org)


@schema.include(operation_id=RUN_OPERATION).parametrize()
@FUZZ_SETTINGS
def test_run_bodies_conform(case, stack, fuzz_org):
    """Bodies fuzzed against the fuzz org's real pipeline: accepted (202/200) or refused as documented."""
    case.path_parameters = {"org": fuzz_org["slug"], **PIPELINE_PATH}
    if _repeats_a_reservation(case, fuzz_org):
        return
    case.call_and_validate(
        base_url=stack.api_url, headers={"X-API-Key": fuzz_org["key"]}, checks=CHECKS, timeout=30
    )


# Key-less requests only need breadth, not the coverage phase's hundreds of boundary cases. The alert routes
# share the SaaS routes' key check; tests/e2e/test_alerts.py sends each of them without a key and with a wrong one.
keyless_schema = (
    schemathesis.openapi.from_path(
        str(OPENAPI_PATH),
        config=SchemathesisConfig.from_dict({"seed": SEED, "phases": {"coverage": {"enabled": False}}}),
    )
    .exclude(tag="meta")
    .exclude(tag="alerts")
)


@keyless_schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=10)
def test_requests_without_a_valid_key_conform(case, stack, fuzz_org):
    """Without a key, or with a wrong one, every secured operation refuses, as documented."""
    if not _routable(case):
        return
    _aim_at_fuzz_org(case, fuzz_org)
    for name in ("X-API-Key", "X-CA-Root-Key"):  # schemathesis may generate values for the security schemes
        (case.headers or {}).pop(name, None)
    wrong = {"X-API-Key": "dps_not_a_key", "X-CA-Root-Key": "x" * 40}
    for headers in ({}, wrong):
        response = case.call_and_validate(base_url=stack.api_url, headers=headers, checks=CHECKS, timeout=30)
        assert response.status_code in (400, 401, 413), response.text  # refused before or at the key check


# Paths the fuzzer skips: (method, path, status and codes the contract allows, why it differs today or None).
# An encoded '/' is decoded before routing, so NOT_FOUND ("no route") is as good as RUN_NOT_FOUND for one.
_NEWLINE = "functions-framework's Flask rule /<path:path> does not match a newline: text/html 404"
_SLASH = "an encoded '/' is a separator once decoded: 404 NOT_FOUND, a code the contract does not list"
AWKWARD_PATHS = [
    ("GET", "/api/v1/pipelines/runs/%2F", 404, {"RUN_NOT_FOUND", "NOT_FOUND"}, None),  # was 500 ('//')
    ("GET", "/api/v1//pipelines/runs", 404, {"NOT_FOUND"}, None),
    ("POST", "/api/v1/pipelines/run/{org}/openai/cost/a%0Ab", 400, {"INVALID_PATH"}, _NEWLINE),
    ("GET", "/api/v1/pipelines/runs/a%0Ab", 404, {"RUN_NOT_FOUND"}, _NEWLINE),
    ("POST", "/api/v1/pipelines/run/{org}/openai/cost/a%2Fb", 400, {"INVALID_PATH"}, _SLASH),
    ("POST", "/api/v1/pipelines/run/{org}/openai/cost/..", 400, {"INVALID_PATH"}, None),
]


def _awkward_params():
    for *case, differs in AWKWARD_PATHS:
        reason = f"reported to the lead (contract or code to change): {differs}"
        marks = pytest.mark.xfail(reason=reason, strict=True) if differs else ()
        yield pytest.param(*case, marks=marks, id=f"{case[0]} {case[1]}")


@pytest.mark.parametrize("method, path, status, codes", list(_awkward_params()))
def test_awkward_paths_answer_in_the_documented_format(stack, fuzz_org, method, path, status, codes):
    """Path values the fuzzer skips (they cannot reach the function as one segment) still get JSON answers."""
    # http.client sends the path byte for byte (httpx would resolve '..'), as a hand-written client might.
    connection = http.client.HTTPConnection(urlsplit(stack.api_url).netloc, timeout=30)
    body = json.dumps({"date": "2025-11-01"}) if method == "POST" else None
    connection.request(
        method,
        path.format(org=fuzz_org["slug"]),
        body=body,
        headers={"X-API-Key": fuzz_org["key"], "Content-Type": "application/json"},
    )
    raw = connection.getresponse()
    response = httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())
    connection.close()
    assert response.headers["content-type"].startswith("application/json"), response.text
    assert response.status_code == status and response.json()["error"]["code"] in codes, response.text


def test_openapi_route_serves_the_file(stack):
    """GET /openapi.json is the YAML document, as JSON."""
    response = httpx.get(f"{stack.api_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
