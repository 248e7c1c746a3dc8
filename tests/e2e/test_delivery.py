"""At-least-once delivery: a run message delivered three times (in turn, at once, under new message ids) runs once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.providers.openai import PROVIDER as OPENAI
from shared.runs.run_log import RunLog
from shared.worker.entry import handle_run_event
from tests.e2e.faultkit import DAY, USAGE_COSTS
from tests.kit.runs import event_for, new_run, run_document, status_changes, worker_deps
from tests.kit.totals import COSTS_PATH, USAGE_PATH, sandbox_costs, sandbox_usage, table_costs, table_usage


def _sequential(events, deps):
    return [handle_run_event(event, OPENAI, deps) for event in events]


def _concurrent(events, deps):
    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(lambda event: handle_run_event(event, OPENAI, deps), events))


@pytest.mark.parametrize(
    ("deliver", "message_ids"),
    [
        (_sequential, ["m-1", "m-1", "m-1"]),
        (_concurrent, ["m-1", "m-1", "m-1"]),
        (_concurrent, ["m-1", "m-2", "m-3"]),  # the run published three times (e.g. a client retrying)
    ],
    ids=["same message in turn", "same message at once", "three messages at once"],
)
def test_three_deliveries_run_once_and_write_one_copy(
    deliver, message_ids, stack, short_settings, warehouse, kms, faults, tenant
):
    request = new_run(short_settings, warehouse, tenant["org_slug"], USAGE_COSTS, DAY)
    deps = worker_deps(short_settings, warehouse, kms)

    outcomes = deliver([event_for(request, message_id) for message_id in message_ids], deps)

    assert sorted(outcomes) == ["completed", "duplicate", "duplicate"]
    assert (faults.hits[USAGE_PATH], faults.hits[COSTS_PATH]) == (1, 1)  # one execution reached the provider
    run_log, run_id = RunLog(warehouse, short_settings), request.pipeline_logging_id
    steps = run_log.step_logs(tenant["org_slug"], run_id)
    assert [(s["step_id"], s["attempt"], s["status"]) for s in steps] == [
        ("usage", 1, "COMPLETED"),
        ("costs", 1, "COMPLETED"),
    ]
    audit = status_changes(warehouse, short_settings, run_id)
    assert [(t["from_status"], t["to_status"]) for t in audit] == [
        (None, "PENDING"),
        ("PENDING", "RUNNING"),
        ("RUNNING", "COMPLETED"),
    ]
    claim = run_document(short_settings, tenant["org_slug"], run_id)
    assert claim["attempts"] == 1 and claim["message_id"] in message_ids
    # Each run replaces the day's slice: after three runs of three deliveries each, still one copy of every row.
    assert table_costs(short_settings, warehouse, tenant["org_slug"], DAY) == sandbox_costs(stack, DAY)
    assert table_usage(short_settings, warehouse, tenant["org_slug"], DAY) == sandbox_usage(stack, DAY)
