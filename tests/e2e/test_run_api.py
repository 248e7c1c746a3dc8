"""The run API over real HTTP (the served `api` function): error cases, then a run end to end."""

import httpx
import pytest

from tests.kit.runs import PIPELINE, post_run


def _post(stack, org_slug, key, body, pipeline=PIPELINE):
    return post_run(stack, org_slug, body, key=key, pipeline=pipeline)


def _error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_health(stack):
    response = httpx.get(f"{stack.api_url}/health", timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_authentication_errors(stack, api_only_org):
    org = api_only_org()
    body = {"date": "2025-11-01"}
    _error(_post(stack, org["org_slug"], None, body), 401, "UNAUTHENTICATED")
    _error(_post(stack, org["org_slug"], "dps_not_a_real_key", body), 401, "UNAUTHENTICATED")
    other = api_only_org()
    _error(_post(stack, org["org_slug"], other["api_key"], body), 403, "ORG_MISMATCH")


@pytest.mark.parametrize(
    "status, code", [("SUSPENDED", "SUBSCRIPTION_SUSPENDED"), ("CANCELLED", "SUBSCRIPTION_CANCELLED")]
)
def test_inactive_subscription_is_403(stack, api_only_org, status, code):
    org = api_only_org(status=status)
    _error(_post(stack, org["org_slug"], org["api_key"], {"date": "2025-11-01"}), 403, code)


def test_trial_subscription_may_run(stack, api_only_org):
    org = api_only_org(status="TRIAL")
    assert _post(stack, org["org_slug"], org["api_key"], {"date": "2025-11-01"}).status_code == 202


def test_request_errors(stack, api_only_org):
    org = api_only_org()
    slug, key = org["org_slug"], org["api_key"]
    _error(
        _post(stack, slug, key, {"date": "2025-11-01"}, pipeline="openai/cost/nope"),
        404,
        "PIPELINE_NOT_FOUND",
    )
    _error(_post(stack, slug, key, {"date": "2025-02-30"}), 422, "INVALID_REQUEST")
    assert "date" in _post(stack, slug, key, {"date": "2025-02-30"}).json()["error"]["message"]
    _error(_post(stack, slug, key, {"when": "2025-11-01"}), 422, "INVALID_REQUEST")
    _error(_post(stack, "Bad-Org", key, {"date": "2025-11-01"}), 400, "INVALID_PATH")
    no_credential = api_only_org(credential=False)
    _error(
        _post(stack, no_credential["org_slug"], no_credential["api_key"], {"date": "2025-11-01"}),
        400,
        "INTEGRATION_NOT_CONFIGURED",
    )
    _error(httpx.get(f"{stack.api_url}/api/v1/nothing", timeout=10), 404, "NOT_FOUND")


def test_admin_routes_need_the_root_key(stack):
    _error(httpx.post(f"{stack.api_url}/api/v1/scheduler/trigger", timeout=10), 401, "INVALID_ROOT_KEY")
    wrong = httpx.post(
        f"{stack.api_url}/api/v1/scheduler/trigger", headers={"X-CA-Root-Key": "x" * 40}, timeout=10
    )
    _error(wrong, 401, "INVALID_ROOT_KEY")
