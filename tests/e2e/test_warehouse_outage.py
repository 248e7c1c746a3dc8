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


def test_bigquery_down_the_api_still_accepts_and_only_an_unindexed_key_gets_503(
    stack, settings, warehouse, tenant
):
    """The request path needs no BigQuery (the key index and the reservation are in Firestore; the history follows
    with the claim): while BigQuery is down a run request is accepted. Only a key the Firestore index does not hold
    yet needs BigQuery: that one gets a 503 with Retry-After, nothing is written, and once BigQuery is back the same
    request is accepted."""
    from shared.tenancy import api_keys, key_index, onboarding

    slug, day = tenant["org_slug"], DAY + timedelta(days=6)
    url = f"{stack.api_url}/api/v1/pipelines/run/{slug}/openai/cost/usage_cost"
    spare = onboarding.issue_api_key(settings, slug)  # issued before the outage, then dropped from the index
    key_index.index_of(settings).delete(api_keys.hash_api_key(spare["api_key"], settings.key_pepper))
    post = lambda key, when: httpx.post(
        url, json={"date": when.isoformat()}, headers={"X-API-Key": key}, timeout=120
    )
    stack.stop_bigquery()
    try:
        accepted_in_outage = post(tenant["api_key"], day)
        refused = post(spare["api_key"], day + timedelta(days=1))
    finally:
        stack.start_bigquery()
    assert accepted_in_outage.status_code == 202, accepted_in_outage.text
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "BACKEND_UNAVAILABLE" and refused.headers.get("Retry-After")
    run_log = RunLog(warehouse, settings)
    same_day = lambda when: run_log.list_for_org(slug, 10, start=when, end=when)  # history and live documents
    assert [r["pipeline_logging_id"] for r in same_day(day)] == [
        accepted_in_outage.json()["pipeline_logging_id"]
    ]
    assert same_day(day + timedelta(days=1)) == []  # nothing half-written for the refused one
    accepted = post(spare["api_key"], day + timedelta(days=1))
    assert accepted.status_code == 202, accepted.text
