"""Every kind of bad input gets its precise 4xx and code, and nothing is written."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.platform.settings import central_table
from shared.tenancy import onboarding

RUN = "/api/v1/pipelines/run/{org}/{pipeline}"
PIPELINE = "openai/cost/usage_cost"


@pytest.fixture(scope="module")
def org(stack):
    created = onboarding.create_org(stack.settings(), "bad_input_org", "professional", "ACTIVE")
    onboarding.set_credential(stack.settings(), "bad_input_org", "openai", "sk-admin-test", {})
    return created


def _run_count(warehouse, settings, org_slug):
    return warehouse.query(
        f"SELECT COUNT(*) AS n FROM `{central_table(settings, 'org_meta_pipeline_runs')}` "
        "WHERE org_slug = @o",
        {"o": org_slug},
    )[0]["n"]


def _send(stack, org, *, body=None, content=None, headers=None, path=None, key=True):
    url = stack.api_url + (path or RUN.format(org=org["org_slug"], pipeline=PIPELINE))
    sent = {"X-API-Key": org["api_key"]} if key else {}
    # Raw bytes go out as JSON (httpx names no type for them): the body itself is what is bad.
    if content:
        sent["Content-Type"] = "application/json"
    return httpx.post(url, json=body, content=content, headers={**sent, **(headers or {})}, timeout=30)


tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
CASES = [
    ("missing key", {"key": False, "body": {"date": "2025-01-01"}}, 401, "UNAUTHENTICATED"),
    (
        "empty key",
        {"key": False, "headers": {"X-API-Key": ""}, "body": {"date": "2025-01-01"}},
        401,
        "UNAUTHENTICATED",
    ),
    (
        "wrong key",
        {"key": False, "headers": {"X-API-Key": "dps_" + "x" * 43}, "body": {"date": "2025-01-01"}},
        401,
        "UNAUTHENTICATED",
    ),
    (
        "huge key",
        {"key": False, "headers": {"X-API-Key": "k" * 5000}, "body": {"date": "2025-01-01"}},
        401,
        "UNAUTHENTICATED",
    ),
    (
        "root key instead of org key",
        {"key": False, "headers": {"X-CA-Root-Key": "whatever"}, "body": {"date": "2025-01-01"}},
        401,
        "UNAUTHENTICATED",
    ),
    (
        "oversized body",
        {"content": b'{"date": "2025-01-01", "trigger_by": "' + b"a" * 20000 + b'"}'},
        413,
        "PAYLOAD_TOO_LARGE",
    ),
    ("empty body", {"content": b""}, 422, "INVALID_REQUEST"),
    ("non-JSON", {"content": b"date=2025-01-01"}, 422, "INVALID_REQUEST"),
    ("JSON array", {"body": ["2025-01-01"]}, 422, "INVALID_REQUEST"),
    ("unknown field", {"body": {"date": "2025-01-01", "dryrun": True}}, 422, "INVALID_REQUEST"),
    ("bad date", {"body": {"date": "2025-02-30"}}, 422, "INVALID_REQUEST"),
    ("date as number", {"body": {"date": 20250101}}, 422, "INVALID_REQUEST"),
    (
        "end before start",
        {"body": {"start_date": "2025-01-05", "end_date": "2025-01-01"}},
        422,
        "INVALID_REQUEST",
    ),
    ("future date", {"body": {"date": tomorrow}}, 422, "INVALID_REQUEST"),
    (
        "range too long",
        {"body": {"start_date": "2025-01-01", "end_date": "2025-04-01"}},
        422,
        "INVALID_REQUEST",
    ),
    (
        "both forms",
        {"body": {"date": "2025-01-01", "start_date": "2025-01-01", "end_date": "2025-01-02"}},
        422,
        "INVALID_REQUEST",
    ),
    (
        "unknown provider",
        {"path": "/api/v1/pipelines/run/bad_input_org/oracle/cost/billing", "body": {"date": "2025-01-01"}},
        404,
        "PIPELINE_NOT_FOUND",
    ),
    (
        "unknown pipeline",
        {"path": "/api/v1/pipelines/run/bad_input_org/openai/cost/nope", "body": {"date": "2025-01-01"}},
        404,
        "PIPELINE_NOT_FOUND",
    ),
    (
        "SQL in a segment",
        {
            "path": "/api/v1/pipelines/run/bad_input_org/openai'%20OR%201=1--/cost/usage_cost",
            "body": {"date": "2025-01-01"},
        },
        400,
        "INVALID_PATH",
    ),
    (
        "SQL in the org",
        {
            "path": "/api/v1/pipelines/run/x%27;DROP%20TABLE%20t;--/openai/cost/usage_cost",
            "body": {"date": "2025-01-01"},
        },
        400,
        "INVALID_PATH",
    ),
    (
        "encoded traversal",
        {
            "path": "/api/v1/pipelines/run/bad_input_org/..%2F..%2Fetc/cost/usage_cost",
            "body": {"date": "2025-01-01"},
        },
        404,
        "NOT_FOUND",
    ),  # decoded: no such route
    (
        "traversal",
        {
            "path": "/api/v1/pipelines/run/bad_input_org/openai/../../cost/usage_cost",
            "body": {"date": "2025-01-01"},
        },
        404,
        "NOT_FOUND",
    ),
    (
        "upper-case org",
        {
            "path": "/api/v1/pipelines/run/BAD_INPUT_ORG/openai/cost/usage_cost",
            "body": {"date": "2025-01-01"},
        },
        400,
        "INVALID_PATH",
    ),
]


@pytest.mark.parametrize("name, request_kw, status, code", CASES, ids=[c[0] for c in CASES])
def test_bad_run_requests(stack, settings, warehouse, org, name, request_kw, status, code):
    before = _run_count(warehouse, settings, org["org_slug"])
    response = _send(stack, org, **request_kw)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert _run_count(warehouse, settings, org["org_slug"]) == before  # nothing written


def test_a_valid_key_on_another_orgs_path_is_403_and_writes_nothing(
    stack, settings, warehouse, org, api_only_org
):
    other = api_only_org()
    before = _run_count(warehouse, settings, other["org_slug"])
    response = _send(
        stack, org, path=RUN.format(org=other["org_slug"], pipeline=PIPELINE), body={"date": "2025-01-01"}
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "ORG_MISMATCH"
    assert _run_count(warehouse, settings, other["org_slug"]) == before


def test_method_and_route_errors(stack, org):
    response = httpx.get(stack.api_url + RUN.format(org=org["org_slug"], pipeline=PIPELINE), timeout=10)
    assert response.status_code == 405 and response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    bad_id = httpx.get(
        f"{stack.api_url}/api/v1/pipelines/runs/not-a-uuid'--",
        headers={"X-API-Key": org["api_key"]},
        timeout=10,
    )
    assert bad_id.status_code == 404 and bad_id.json()["error"]["code"] == "RUN_NOT_FOUND"


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("status=DONE", "status"),
        ("pipeline=../x", "pipeline"),
        ("start_date=yesterday", "start_date"),
        ("page_token=!!", "page_token"),
        ("page_token=eyJjIjoiMjAyNS0wMS0wMSIsImkiOiJ4In0", "page_token"),
        ("colour=red", "colour"),
        ("start_date=2025-02-01&end_date=2025-01-01", "end_date"),
    ],
)
def test_bad_listing_queries_are_422(stack, org, query, fragment):
    response = httpx.get(
        f"{stack.api_url}/api/v1/pipelines/runs?{query}", headers={"X-API-Key": org["api_key"]}, timeout=10
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "INVALID_REQUEST"
    assert response.json()["error"]["message"].startswith(fragment)
