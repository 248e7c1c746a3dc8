"""Quotas through the served API: atomic concurrency limit under a burst, duplicates, cancel, reaper."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx
import pytest

from tests.e2e.hanging_provider import HangingProvider
from tests.kit.runs import age_run, cancel_run, post_run, quota_row, set_quota


@pytest.fixture
def held_org(new_org):
    """A professional org (2 concurrent runs) whose provider never answers: its runs stay in flight."""
    provider = HangingProvider()
    org = new_org(plan="professional", metadata={"base_url": provider.url})
    yield org
    provider.release()


def _post(stack, org, body):
    # A long timeout: 50 requests at once queue up on two cores.
    return post_run(stack, org["org_slug"], body, key=org["api_key"], timeout=180)


def test_fifty_simultaneous_requests_accept_exactly_the_concurrency_limit(
    stack, settings, warehouse, held_org
):
    days = [(date(2025, 6, 1) + timedelta(days=i)).isoformat() for i in range(50)]  # 50 distinct runs
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda day: _post(stack, held_org, {"date": day}), days))
    statuses = sorted(r.status_code for r in responses)
    others = [(r.status_code, r.text) for r in responses if r.status_code not in (202, 429)]
    assert statuses.count(202) == 2 and not others, others[:5]
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) == 48
    assert {r.json()["error"]["code"] for r in refused} == {"CONCURRENCY_LIMIT_REACHED"}
    assert all(int(r.headers["Retry-After"]) > 0 for r in refused)
    quota = quota_row(warehouse, settings, held_org["org_slug"])
    assert quota["running"] == 2 and quota["daily_runs"] == 2 and quota["monthly_runs"] == 2
    accepted = [r.json()["pipeline_logging_id"] for r in responses if r.status_code == 202]
    for run_id in accepted:  # cancelling releases the slots at once
        assert cancel_run(stack, held_org, run_id).json()["status"] == "CANCELLED"
    assert quota_row(warehouse, settings, held_org["org_slug"])["running"] == 0


def test_an_identical_run_in_flight_is_returned_instead_of_a_second(stack, settings, warehouse, held_org):
    first = _post(stack, held_org, {"start_date": "2025-07-01", "end_date": "2025-07-03"})
    again = _post(stack, held_org, {"start_date": "2025-07-01", "end_date": "2025-07-03"})
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["pipeline_logging_id"] == first.json()["pipeline_logging_id"]
    assert again.json()["duplicate"] is True and again.json()["status"] in ("PENDING", "RUNNING")
    assert quota_row(warehouse, settings, held_org["org_slug"])["running"] == 1  # the duplicate took no slot
    other_dates = _post(stack, held_org, {"date": "2025-07-01"})
    assert other_dates.status_code == 202  # a different range is a different run
    run_id = first.json()["pipeline_logging_id"]
    assert cancel_run(stack, held_org, run_id).status_code == 200
    second_cancel = cancel_run(stack, held_org, run_id)
    assert second_cancel.status_code == 409 and second_cancel.json()["error"]["code"] == "RUN_NOT_CANCELLABLE"
    assert quota_row(warehouse, settings, held_org["org_slug"])["running"] == 1  # released exactly once
    cancel_run(stack, held_org, other_dates.json()["pipeline_logging_id"])
    assert quota_row(warehouse, settings, held_org["org_slug"])["running"] == 0


def test_another_orgs_run_cannot_be_cancelled(stack, held_org, new_org):
    run_id = _post(stack, held_org, {"date": "2025-08-01"}).json()["pipeline_logging_id"]
    stranger = new_org()
    response = cancel_run(stack, stranger, run_id)
    assert response.status_code == 404 and response.json()["error"]["code"] == "RUN_NOT_FOUND"
    assert cancel_run(stack, held_org, run_id).status_code == 200


def test_the_reaper_settles_a_crashed_run_and_recounts_slots(stack, settings, warehouse, held_org):
    run_id = _post(stack, held_org, {"date": "2025-09-01"}).json()["pipeline_logging_id"]
    # Simulate a worker that died long ago: the run is still in flight, last touched two hours back.
    age_run(settings, held_org["org_slug"], run_id, "RUNNING", timedelta(hours=2))
    set_quota(settings, held_org["org_slug"], running=7)  # and a counter that drifted
    root = {"X-CA-Root-Key": stack.env()["CA_ROOT_API_KEY"]}
    assert httpx.post(f"{stack.api_url}/api/v1/admin/reap", timeout=30).status_code == 401
    result = httpx.post(f"{stack.api_url}/api/v1/admin/reap", headers=root, timeout=60).json()
    assert run_id in result["pipeline_logging_ids"] and result["quotas_reconciled"] >= 1
    run = httpx.get(
        f"{stack.api_url}/api/v1/pipelines/runs/{run_id}",
        headers={"X-API-Key": held_org["api_key"]},
        timeout=30,
    ).json()
    assert run["status"] == "FAILED" and run["error_code"] == "RUN_TIMEOUT"
    assert quota_row(warehouse, settings, held_org["org_slug"])["running"] == 0
    again = httpx.post(f"{stack.api_url}/api/v1/admin/reap", headers=root, timeout=60).json()
    assert run_id not in again["pipeline_logging_ids"]  # safe to run any time
    assert quota_row(warehouse, settings, held_org["org_slug"])["running"] == 0


def test_every_authenticated_run_request_counts_against_the_rate(stack, api_only_org):
    """Starter allows 20 run requests a minute: 20 refused ones (a bad body, an unknown pipeline, another org's
    path) use the budget up, so the next request, a valid one, is 429 RATE_LIMITED with Retry-After."""
    org, other = api_only_org(plan="starter"), api_only_org(plan="starter")
    key = org["api_key"]
    refused = [post_run(stack, org["org_slug"], {"date": "not a date"}, key=key) for _ in range(10)]
    refused += [post_run(stack, org["org_slug"], {}, key=key, pipeline="openai/cost/nope") for _ in range(5)]
    refused += [post_run(stack, other["org_slug"], {"date": "2025-01-01"}, key=key) for _ in range(5)]
    assert [r.status_code for r in refused] == [422] * 10 + [404] * 5 + [403] * 5
    answer = post_run(stack, org["org_slug"], {"date": "2025-01-01"}, key=key)
    assert answer.status_code == 429 and answer.json()["error"]["code"] == "RATE_LIMITED", answer.text
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    # The other org's budget was not touched by requests made with this org's key.
    assert post_run(stack, other["org_slug"], {"date": "2025-01-01"}, key=other["api_key"]).status_code == 202
