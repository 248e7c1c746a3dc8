"""Scheduled runs through the served api function and the local Cloud Tasks server: trigger, queue, process."""

from datetime import date

import httpx
import pytest
from google.api_core import exceptions

from shared.platform.settings import central_table
from shared.scheduling.tasks import ScheduledRun
from tests.kit.runs import root_headers, set_quota, wait_until

pytestmark = pytest.mark.stack
PIPELINE = "openai/cost/usage_cost"


def _trigger(stack, **body):
    response = httpx.post(
        f"{stack.api_url}/api/v1/scheduler/trigger", json=body, headers=root_headers(stack), timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def _scheduled_runs(warehouse, settings, org_slug, day):
    return warehouse.query(
        f"SELECT pipeline_logging_id, status, trigger_by, error_code FROM "
        f"`{central_table(settings, 'org_meta_pipeline_runs_latest')}` WHERE org_slug = @org AND start_date = @day "
        "AND trigger_by = 'scheduler' ORDER BY created_at",
        {"org": org_slug, "day": day},
    )


@pytest.fixture(scope="module")
def tasks_client(stack):
    from shared.platform.clients import make_tasks_client

    return make_tasks_client(stack.settings())


def _completed(warehouse, settings, org_slug, day):
    return [r for r in _scheduled_runs(warehouse, settings, org_slug, day) if r["status"] == "COMPLETED"]


def _task(tasks_client, stack, org_slug, day):
    name = f"{stack.tasks_queue}/tasks/{ScheduledRun(org_slug, PIPELINE, day).task_id}"
    try:
        return tasks_client.get_task(name=name)
    except exceptions.NotFound:
        return None


def test_process_queue_takes_the_root_key_only(stack, new_org):
    org = new_org()
    url = f"{stack.api_url}/api/v1/scheduler/process-queue"
    body = {"org_slug": org["org_slug"], "pipeline_id": PIPELINE, "date": "2025-10-01"}
    for headers in (
        {},
        {"X-API-Key": org["api_key"]},
        {"X-CA-Root-Key": "x" * 40},
        {"Authorization": "Bearer not-a-token"},
    ):
        response = httpx.post(url, json=body, headers=headers, timeout=30)
        assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_ROOT_KEY"
    refused = httpx.post(url, json={**body, "extra": 1}, headers=root_headers(stack), timeout=30)
    assert refused.status_code == 422


def test_a_repeated_trigger_enqueues_once_and_the_run_completes(stack, settings, warehouse, new_org):
    org = new_org()
    day = date(2025, 10, 2)
    first = _trigger(stack, pipeline_id=PIPELINE, org_slug=org["org_slug"], date=day.isoformat())
    second = _trigger(stack, pipeline_id=PIPELINE, org_slug=org["org_slug"], date=day.isoformat())
    assert first["queued"] == 1 and first["skipped"] == {}
    assert second["queued"] == 0 and set(second["skipped"]) <= {"ALREADY_QUEUED", "ALREADY_RAN"}
    runs = wait_until(lambda: _completed(warehouse, settings, org["org_slug"], day), interval=0.2)
    assert len(_scheduled_runs(warehouse, settings, org["org_slug"], day)) == 1 and len(runs) == 1
    # Once the run exists, a trigger (even after the queue forgot the task's name) skips the org as done.
    assert _trigger(stack, pipeline_id=PIPELINE, org_slug=org["org_slug"], date=day.isoformat())[
        "skipped"
    ] == {"ALREADY_RAN": 1}


def test_orgs_that_may_not_run_are_skipped_with_reasons(stack, new_org):
    from shared.tenancy import onboarding

    suspended, bare = new_org(status="SUSPENDED"), new_org(credential=False)
    day = "2025-10-03"
    assert _trigger(stack, pipeline_id=PIPELINE, org_slug=suspended["org_slug"], date=day)["skipped"] == {
        "SUBSCRIPTION_SUSPENDED": 1
    }
    assert _trigger(stack, pipeline_id=PIPELINE, org_slug=bare["org_slug"], date=day)["skipped"] == {
        "INTEGRATION_NOT_CONFIGURED": 1
    }
    # A task whose org was suspended after the trigger is refused for good: recorded, and the task is done.
    active = new_org()
    onboarding.set_subscription_status(stack.settings(), active["org_slug"], "SUSPENDED")
    response = httpx.post(
        f"{stack.api_url}/api/v1/scheduler/process-queue",
        headers=root_headers(stack),
        timeout=30,
        json={"org_slug": active["org_slug"], "pipeline_id": PIPELINE, "date": day},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "FAILED" and response.json()["error_code"] == "SUBSCRIPTION_SUSPENDED"


def test_a_task_refused_for_quota_is_retried_later_and_then_runs(
    stack, settings, warehouse, new_org, tasks_client
):
    org = new_org(plan="professional")  # 2 concurrent runs
    # Both slots held, as by two runs in flight (without the runs, so nothing else depends on their timing).
    set_quota(settings, org["org_slug"], running=2)
    day = date(2025, 10, 4)
    assert (
        _trigger(stack, pipeline_id=PIPELINE, org_slug=org["org_slug"], date=day.isoformat())["queued"] == 1
    )
    # The queue retries the task with backoff while the slots are held (429 CONCURRENCY_LIMIT_REACHED) ...
    task = wait_until(
        lambda: (t := _task(tasks_client, stack, org["org_slug"], day)) and t.response_count >= 2 and t,
        interval=0.2,
    )
    assert task.first_attempt.response_status.message == "HTTP 429"
    assert not _scheduled_runs(warehouse, settings, org["org_slug"], day)
    set_quota(settings, org["org_slug"], running=0)
    # ... until a slot frees up: the next attempt starts the run, the task is done, and the run completes.
    run = wait_until(lambda: _completed(warehouse, settings, org["org_slug"], day), interval=0.2)[0]
    assert run["trigger_by"] == "scheduler"
    assert _task(tasks_client, stack, org["org_slug"], day) is None
    assert len(_scheduled_runs(warehouse, settings, org["org_slug"], day)) == 1
