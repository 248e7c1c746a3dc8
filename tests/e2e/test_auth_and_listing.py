"""Org keys (expiry, revocation, cache bound), subscriptions, readiness, and run listing with cursor paging."""

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from shared.api.app import ApiDeps, handle
from shared.platform.errors import ApiError
from shared.runs.model import COMPLETED, PENDING, RUNNING
from shared.runs.run_log import RunLog
from shared.tenancy import onboarding
from shared.tenancy.auth import KeyCache, authenticate_org


def _get(stack, path, key):
    return httpx.get(stack.api_url + path, headers={"X-API-Key": key}, timeout=30)


def test_expired_and_revoked_keys_are_refused(stack, settings, api_only_org):
    org = api_only_org()
    expired = onboarding.issue_api_key(
        settings, org["org_slug"], expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    response = _get(stack, "/api/v1/pipelines/runs", expired["api_key"])
    assert response.status_code == 401 and response.json()["error"]["code"] == "API_KEY_EXPIRED"
    spare = onboarding.issue_api_key(settings, org["org_slug"])
    onboarding.revoke_api_key(settings, org["org_slug"], spare["api_key_id"])
    assert _get(stack, "/api/v1/pipelines/runs", spare["api_key"]).status_code == 401


def test_a_revoked_key_stops_working_within_the_cache_bound(settings, warehouse, api_only_org):
    org = api_only_org()
    clock = [0.0]
    cache = KeyCache(ttl_seconds=30, clock=lambda: clock[0])
    assert authenticate_org(warehouse, settings, org["api_key"], cache).org_slug == org["org_slug"]
    onboarding.revoke_api_key(settings, org["org_slug"], org["api_key_id"])
    clock[0] = 29.0  # inside the bound the instance may still accept it (documented)
    assert authenticate_org(warehouse, settings, org["api_key"], cache).org_slug == org["org_slug"]
    clock[0] = 30.5  # past it, never
    with pytest.raises(ApiError) as caught:
        authenticate_org(warehouse, settings, org["api_key"], cache)
    assert caught.value.status == 401


def test_past_due_subscription_is_403_with_its_own_code(stack, settings, api_only_org):
    org = api_only_org(status="ACTIVE")
    onboarding.set_subscription_status(
        settings, org["org_slug"], "PAST_DUE"
    )  # before the key is ever used: not cached
    response = httpx.post(
        f"{stack.api_url}/api/v1/pipelines/run/{org['org_slug']}/openai/cost/usage_cost",
        json={"date": "2025-01-01"},
        headers={"X-API-Key": org["api_key"]},
        timeout=30,
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "SUBSCRIPTION_PAST_DUE"


def test_readiness_says_which_dependency_failed(stack, settings, warehouse, kms):
    from werkzeug.test import Client
    from werkzeug.wrappers import Request

    from shared.platform.clients import make_kms_client
    from shared.platform.settings import settings_from_env

    served = httpx.get(f"{stack.api_url}/health/ready", timeout=30)
    assert served.status_code == 200 and served.json()["checks"] == {"warehouse": "ok", "kms": "ok"}
    dead_kms = make_kms_client(settings_from_env({**stack.env(), "KMS_API_ENDPOINT": "127.0.0.1:9"}))
    deps = ApiDeps(settings, warehouse, publisher=None, kms_client=dead_kms)
    client = Client(lambda environ, start: handle(Request(environ), deps)(environ, start))
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json["checks"]["warehouse"] == "ok" and response.json["checks"]["kms"].startswith(
        "failed"
    )


@pytest.mark.parametrize("environment", ["stage", "prod"])
def test_the_api_function_refuses_to_start_without_a_strong_root_key(stack, environment):
    env = {**stack.env(), "ENVIRONMENT": environment, "CA_ROOT_API_KEY": "short", "API_KEY_PEPPER": "p" * 40}
    started = subprocess.run(
        [sys.executable, "-c", "import runpy; runpy.run_path('functions/api/main.py')"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0 and "CA_ROOT_API_KEY must be at least 32 characters" in started.stderr


def test_listing_pages_through_the_orgs_runs_newest_first_with_filters(
    stack, settings, warehouse, api_only_org
):
    org, stranger = api_only_org(), api_only_org()
    run_log = RunLog(warehouse, settings)
    made = []
    for i in range(5):
        request = run_log.new_request(
            org["org_slug"],
            "openai/cost/usage_cost",
            "openai",
            date(2025, 1, 1 + 3 * i),
            date(2025, 1, 2 + 3 * i),
        )
        run_log.create(request)
        made.append(request.pipeline_logging_id)
    run_log.transition(org["org_slug"], made[0], PENDING, RUNNING)
    run_log.transition(org["org_slug"], made[0], RUNNING, COMPLETED)
    run_log.create(
        run_log.new_request(
            stranger["org_slug"], "openai/cost/usage_cost", "openai", date(2025, 1, 1), date(2025, 1, 1)
        )
    )
    seen, token = [], None
    while True:
        query = "/api/v1/pipelines/runs?limit=2" + (f"&page_token={token}" if token else "")
        page = _get(stack, query, org["api_key"]).json()
        seen += [run["pipeline_logging_id"] for run in page["runs"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == list(reversed(made))  # every run once, newest first, none of the stranger's
    completed = _get(stack, "/api/v1/pipelines/runs?status=COMPLETED", org["api_key"]).json()["runs"]
    assert [run["pipeline_logging_id"] for run in completed] == [made[0]]
    overlapping = _get(
        stack, "/api/v1/pipelines/runs?start_date=2025-01-05&end_date=2025-01-07", org["api_key"]
    )
    assert {run["pipeline_logging_id"] for run in overlapping.json()["runs"]} == {made[1], made[2]}
    other_pipeline = _get(stack, "/api/v1/pipelines/runs?pipeline=gcp/cost/billing", org["api_key"]).json()
    assert other_pipeline == {"runs": [], "next_page_token": None}
    first = completed[0]
    assert first["created_at"].endswith("+00:00") and "T" in first["created_at"]  # RFC 3339 timestamps
    # A run's costs (what it loaded into cost_focus) follow the run's own rule: another org's run is 404.
    costs = _get(stack, f"/api/v1/pipelines/runs/{made[0]}/costs", org["api_key"])
    assert costs.json() == {"pipeline_logging_id": made[0], "status": "COMPLETED", "costs": []}
    refused = _get(stack, f"/api/v1/pipelines/runs/{made[0]}/costs", stranger["api_key"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "RUN_NOT_FOUND")
