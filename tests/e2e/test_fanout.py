"""Fan-out: a 39-day GCP billing backfill runs as parallel slices (each its own delivery) to exact totals, and a
worker killed inside one slice leaves it to a redelivery that completes it once."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from devstack.providers.gcp.export import ExportSpec, generate_export
from shared.platform.settings import REPO_ROOT
from shared.providers.gcp import PROVIDER as GCP
from shared.runs import control
from shared.runs.admission import reserve_run
from shared.runs.run_log import RunLog
from shared.tenancy.subscriptions import load_plans
from shared.worker.crash_points import CRASH_ENV, LOADED
from shared.worker.entry import WorkerDeps
from tests.e2e.fault_provider import call
from tests.e2e.faultkit import DAY, USAGE_COSTS
from tests.kit.orgs import attach_gcp_export
from tests.kit.runs import (
    Recorder,
    deliver,
    event_for,
    run_document,
    running_slots,
    start_run,
    wait_for_run,
    worker_deps,
)
from tests.kit.totals import sandbox_costs, table_costs

PIPELINE = "gcp/cost/billing"
TABLE_NAME = "gcp_billing_export_v1_0F1E2D_3C4B5A_6978AB"
USAGE_PATH = "/v1/organization/usage/completions"


def _export_totals(warehouse, table_id: str, first: date, last: date) -> dict:
    """Net cost and rows per usage day of the export partitions in [first, last]."""
    rows = warehouse.query(
        f"""
        SELECT DATE(usage_start_time) AS day,
               SUM(CAST(cost AS NUMERIC)) + SUM(IFNULL((SELECT SUM(CAST(c.amount AS NUMERIC))
                                                        FROM UNNEST(credits) AS c), 0)) AS net,
               COUNT(*) AS n
        FROM `{table_id}` WHERE DATE(_PARTITIONTIME) BETWEEN @first AND @last GROUP BY day""",
        {"first": first, "last": last},
    )
    return {r["day"]: (r["net"], r["n"]) for r in rows}


def _loaded_totals(warehouse, settings, slug: str) -> tuple[dict, dict]:
    dataset = f"{settings.project}.{settings.org_dataset(slug)}"
    # One FOCUS row per export row, plus the rows FOCUS adds for commitment no usage used (BilledCost 0).
    focus = warehouse.query(f"""
        SELECT DATE(ChargePeriodStart) AS day, SUM(BilledCost) AS net,
          COUNTIF(IFNULL(x_cost_type, '') != 'unused_commitment') AS n
        FROM `{dataset}.cost_focus` WHERE ProviderName = 'Google Cloud' GROUP BY day""")
    raw = warehouse.query(f"""
        SELECT usage_date AS day, SUM(net_cost) AS net, COUNT(*) AS n FROM `{dataset}.gcp_billing_daily` GROUP BY day""")
    as_map = lambda rows: {r["day"]: (r["net"], r["n"]) for r in rows}
    return as_map(focus), as_map(raw)


def _slices(settings, slug: str, run_id: str) -> list[dict]:
    db = control.control_db(settings)
    return [s.to_dict() for s in control.run_ref(db, slug, run_id).collection(control.SLICES).stream()]


def _org_with_export(settings, warehouse, new_org, start: date, days: int) -> tuple[dict, str]:
    org = new_org()
    export = generate_export(ExportSpec(start=start, days=days, rows_per_day=30, detailed=False))
    return org, attach_gcp_export(settings, warehouse, org["org_slug"], TABLE_NAME, export, "fanout")


def test_a_39_day_backfill_runs_as_parallel_slices_to_exact_totals(stack, settings, warehouse, new_org):
    start, end = (
        date(2025, 8, 31),
        date(2025, 10, 8),
    )  # 39 days over a month's end; the window adds a 3-day look-back
    org, table_id = _org_with_export(settings, warehouse, new_org, start, 39)
    run_id = start_run(stack, org, {"start_date": start.isoformat(), "end_date": end.isoformat()}, PIPELINE)
    run = wait_for_run(stack, org, run_id, timeout=600)
    assert run["status"] == "COMPLETED", run
    assert run["slices_total"] == run["slices_done"] == 6  # 42 days in slices of 7 (configs: slice_days)
    slices = _slices(settings, org["org_slug"], run_id)
    assert sorted(s["status"] for s in slices) == ["COMPLETED"] * 6
    days = sorted((date.fromisoformat(s["start_date"]), date.fromisoformat(s["end_date"])) for s in slices)
    assert days[0][0] == start - timedelta(days=3) and days[-1][1] == end
    assert all(
        later[0] == earlier[1] + timedelta(days=1) for earlier, later in itertools.pairwise(days)
    )  # no gap
    focus, raw = _loaded_totals(warehouse, settings, org["org_slug"])
    assert focus == raw == _export_totals(warehouse, table_id, days[0][0], end)  # exact, every row once
    assert run["rows_written"] == sum(s["rows_written"] for s in slices) > 0
    assert running_slots(settings, warehouse, org["org_slug"]) == 0


WORKER = """
import json, sys
from shared.platform import clients
from shared.platform.settings import get_settings
from shared.providers.gcp import PROVIDER
from shared.worker.entry import WorkerDeps, handle_run_event
deps = WorkerDeps(get_settings(), clients.warehouse(), clients.kms_client())
print(handle_run_event(json.loads(sys.argv[1]), PROVIDER, deps))
"""


@pytest.fixture
def private_topic(settings):
    """make(base, provider): settings whose run topic of `provider` has no push subscription (the stack's functions
    never see its messages) and a pull subscription on it, so the test delivers each message itself; returns
    (settings, subscriber, subscription)."""
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    made = []

    def make(base, provider: str):
        prefix = f"fanout-{uuid.uuid4().hex[:8]}"
        private = dataclasses.replace(base, topic_prefix=prefix)
        topic = publisher.topic_path(settings.project, private.topic_for(provider))
        pull = subscriber.subscription_path(settings.project, f"{prefix}-pull")
        publisher.create_topic(name=topic)
        subscriber.create_subscription(name=pull, topic=topic)
        made.append((topic, pull))
        return private, subscriber, pull

    yield make
    for topic, pull in made:
        subscriber.delete_subscription(subscription=pull)
        publisher.delete_topic(topic=topic)


def _pull_events(subscriber, subscription: str, expected: int) -> list[dict]:
    """The published slice messages, as the push events Pub/Sub would make of them."""
    events = []
    while len(events) < expected:
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=30)
        for item in response.received_messages:
            data = json.loads(item.message.data)
            events.append(event_for_data(data, item.message.message_id))
        if response.received_messages:
            subscriber.acknowledge(
                subscription=subscription, ack_ids=[i.ack_id for i in response.received_messages]
            )
    return sorted(events, key=lambda event: event["slice"])


def event_for_data(data: dict, message_id: str) -> dict:
    import base64

    encoded = base64.b64encode(json.dumps(data).encode()).decode()
    return {"message": {"data": encoded, "messageId": message_id}, "slice": data["slice"]["index"]}


def test_a_worker_killed_inside_a_slice_leaves_it_to_a_redelivery_that_completes_it_once(
    settings, warehouse, kms, new_org, private_topic
):
    private, subscriber, pull = private_topic(settings, "gcp")
    start, end = date(2025, 6, 4), date(2025, 6, 14)  # with the look-back: June 1..14, two slices of 7 days
    org, table_id = _org_with_export(settings, warehouse, new_org, date(2025, 6, 1), 14)
    slug = org["org_slug"]
    request = RunLog(warehouse, private).new_request(slug, PIPELINE, "gcp", start, end)
    assert reserve_run(
        warehouse, private, request, load_plans(private.config_dir)["professional"]
    ).decision == ("ACCEPTED")
    deps = worker_deps(private, warehouse, kms)
    assert deliver(event_for(request), deps, 1, provider=GCP) == ["fanned_out"]
    first, second = _pull_events(subscriber, pull, 2)

    # The first slice's worker dies after its load committed, before the slice was marked done.
    env = {**os.environ, "PIPELINE_TOPIC_PREFIX": private.topic_prefix, CRASH_ENV: f"{LOADED}:billing"}
    crashed = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(first)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert crashed.returncode == 137, crashed.stdout + crashed.stderr
    held = {s["index"]: s for s in _slices(private, slug, request.pipeline_logging_id)}
    assert (held[0]["status"], held[0]["attempts"]) == ("RUNNING", 1)

    # Redelivered while its lease holds: handed back to Pub/Sub (another delivery may still be working on it).
    assert deliver(first, deps, 1, provider=GCP) == ["redeliver SLICE_BUSY"]
    # The lease runs out (the dead worker never renews it): the next redelivery takes the slice and completes it.
    control.run_ref(control.control_db(private), slug, request.pipeline_logging_id).collection(
        control.SLICES
    ).document("0000").update({"lease_until": datetime.now(UTC) - timedelta(seconds=1)})
    assert deliver(first, deps, 1, provider=GCP) == ["slice_completed"]
    assert deliver(second, deps, 1, provider=GCP) == ["completed"]
    assert deliver(first, deps, 1, provider=GCP) == ["duplicate"]  # a late copy changes nothing

    done = {s["index"]: s for s in _slices(private, slug, request.pipeline_logging_id)}
    assert (done[0]["status"], done[0]["attempts"], done[1]["attempts"]) == ("COMPLETED", 2, 1)
    run = run_document(private, slug, request.pipeline_logging_id)
    assert (run["status"], run["slices_done"], run["slices_total"]) == ("COMPLETED", 2, 2)
    focus, raw = _loaded_totals(warehouse, private, slug)
    assert focus == raw == _export_totals(warehouse, table_id, date(2025, 6, 1), end)  # the slice once
    assert running_slots(private, warehouse, slug) == 0


def test_a_run_out_of_a_deliverys_time_is_continued_as_two_slices(
    stack, short_settings, warehouse, kms, tenant, faults, private_topic
):
    """The provider's first answer takes (on the executor's clock) longer than the delivery may work: the run is
    not failed but split into two halves, each its own delivery, and completes to exact totals."""
    private, subscriber, pull = private_topic(short_settings, "openai")
    jumped = []  # the executor's clock runs ahead by what the fault adds (provider requests keep real time)
    deps = WorkerDeps(
        private,
        warehouse,
        kms,
        executor_options={"clock": lambda: time.monotonic() + sum(jumped), "sleep": Recorder()},
    )
    faults.script(USAGE_PATH, [call(lambda: jumped.append(10 * private.delivery_max_seconds))])
    days = [DAY + timedelta(days=k) for k in range(4)]
    request = RunLog(warehouse, private).new_request(
        tenant["org_slug"], USAGE_COSTS, "openai", days[0], days[-1]
    )
    limits = load_plans(private.config_dir)["professional"]
    assert reserve_run(warehouse, private, request, limits).decision == "ACCEPTED"

    assert deliver(event_for(request), deps, 1) == ["split"]
    halves = _pull_events(subscriber, pull, 2)
    assert [outcome for event in halves for outcome in deliver(event, deps, 1)] == [
        "slice_completed",
        "completed",
    ]
    run = run_document(private, tenant["org_slug"], request.pipeline_logging_id)
    assert (run["status"], run["slices_done"], run["slices_total"]) == ("COMPLETED", 2, 2)
    parts = sorted(
        (s["start_date"], s["end_date"])
        for s in _slices(private, tenant["org_slug"], request.pipeline_logging_id)
    )
    assert parts == [(days[0].isoformat(), days[1].isoformat()), (days[2].isoformat(), days[3].isoformat())]
    for day in days:
        assert table_costs(private, warehouse, tenant["org_slug"], day) == sandbox_costs(stack, day)
