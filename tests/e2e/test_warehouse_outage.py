"""Warehouse faults: the BigQuery stand-in stopped for a while mid-run, and while the API takes a request."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import pytest

from shared.runs.run_log import RunLog
from tests.e2e.fault_provider import call
from tests.e2e.faultkit import DAY, USAGE_COSTS
from tests.kit.runs import deliver, event_for, reserve, running_slots, worker_deps
from tests.kit.totals import COSTS_PATH, sandbox_costs, sandbox_usage, table_costs, table_usage

# Its own stack: it stops and restarts the BigQuery emulator mid-run, an outage the shared stack's functions should
# not live through with other modules (and a failed restart stays here).
pytestmark = pytest.mark.own_stack("stops and restarts the BigQuery emulator mid-run")
OUTAGE_SECONDS = 3.0


def _stopper(stack, stopped: threading.Event):
    """An action that stops BigQuery and says so. It is started again by the test's main thread: a process
    started from a short-lived thread dies with it (the stack's children get SIGTERM when their parent thread
    exits, so that none outlives a killed supervisor)."""

    def stop():
        stack.stop_bigquery()
        stopped.set()

    return stop


def _deliver_through_outage(stack, event, deps, stopped: threading.Event) -> list[str]:
    """Deliver `event` (up to 5 times) in a thread while the main thread restarts BigQuery 3 s after it stopped."""
    outcomes: list[str] = []
    delivery = threading.Thread(target=lambda: outcomes.extend(deliver(event, deps, 5)))
    delivery.start()
    assert stopped.wait(60), "the worker never reached the second step"
    time.sleep(OUTAGE_SECONDS)
    stack.start_bigquery()
    delivery.join(240)
    assert not delivery.is_alive(), "the delivery did not finish within 4 minutes of BigQuery's return"
    return outcomes


def test_bigquery_down_between_steps_the_run_completes_exactly(
    stack, short_settings, warehouse, kms, tenant, faults
):
    """BigQuery stops as the worker fetches the second step's data (the first step is loaded) and is back
    3 s later: the load waits it out or is retried; the run completes once, with exact totals, slot released."""
    slug, day = tenant["org_slug"], DAY + timedelta(days=5)
    run = reserve(short_settings, warehouse, slug, day, USAGE_COSTS)
    stopped = threading.Event()
    faults.script(COSTS_PATH, [call(_stopper(stack, stopped))])

    deps = worker_deps(short_settings, warehouse, kms)
    outcomes = _deliver_through_outage(stack, event_for(run, "m-outage"), deps, stopped)

    assert outcomes[-1] == "completed", outcomes
    assert RunLog(warehouse, short_settings).status(slug, run.pipeline_logging_id) == "COMPLETED"
    assert table_costs(short_settings, warehouse, slug, day) == sandbox_costs(stack, day)
    assert table_usage(short_settings, warehouse, slug, day) == sandbox_usage(stack, day)
    assert running_slots(short_settings, warehouse, slug) == 0


def test_bigquery_down_the_api_answers_503_and_writes_nothing(stack, settings, warehouse, tenant):
    """A run request while BigQuery is down gets a prompt 503 with Retry-After; once it is back, no run row
    exists for it and the same request is accepted."""
    slug, day = tenant["org_slug"], DAY + timedelta(days=6)
    url = f"{stack.api_url}/api/v1/pipelines/run/{slug}/openai/cost/usage_cost"
    body, headers = {"date": day.isoformat()}, {"X-API-Key": tenant["api_key"]}
    stack.stop_bigquery()
    try:
        began = time.monotonic()
        refused = httpx.post(url, json=body, headers=headers, timeout=120)
        waited = time.monotonic() - began
    finally:
        stack.start_bigquery()
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "BACKEND_UNAVAILABLE"
    assert refused.headers.get("Retry-After")
    # Bounded by the API's 10 s warehouse budget per statement (the client library alone would wait 600 s).
    assert waited < 45, waited
    run_log = RunLog(warehouse, settings)
    same_day = lambda: run_log.list_for_org(slug, 10, start=day, end=day)  # history and live documents
    assert same_day() == []  # nothing half-written
    accepted = httpx.post(url, json=body, headers=headers, timeout=120)
    assert accepted.status_code == 202, accepted.text
    assert [run["pipeline_logging_id"] for run in same_day()] == [accepted.json()["pipeline_logging_id"]]
