"""Group-committed reservations against the Firestore emulator: one transaction per org and batch, the same
decisions and effects as one at a time, rate shards that add up to the limit, nothing written on failure."""

import contextlib
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.platform.errors import TransientError
from shared.runs import admission, control
from shared.runs.admission import (
    Ask,
    count_refused_request,
    decide_org_batch,
    rate_shards,
    refusal,
    reserve_run,
)
from shared.runs.run_log import RunLog
from shared.tenancy.subscriptions import PlanLimits
from tests.kit.orgs import unique_slug
from tests.kit.runs import quota_row

NOON = datetime(2026, 3, 31, 12, 0, 5, tzinfo=UTC)
PIPELINE = "openai/cost/usage_cost"
UNLIMITED = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=None, requests_per_minute=None)
CONCURRENT_1 = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=1, requests_per_minute=None)
CONCURRENT_2 = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=2, requests_per_minute=None)
DAILY_1 = PlanLimits(daily_runs=1, monthly_runs=None, concurrent_runs=None, requests_per_minute=None)
MONTHLY_1 = PlanLimits(daily_runs=None, monthly_runs=1, concurrent_runs=None, requests_per_minute=None)
RATE_1 = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=None, requests_per_minute=1)


def _request(warehouse, settings, org, day):
    return RunLog(warehouse, settings).new_request(org, PIPELINE, "openai", day, day)


def _runs(settings, org) -> list[dict]:
    db = control.control_db(settings)
    return [s.to_dict() for s in control.org_ref(db, org).collection(control.RUNS).stream()]


def _rate_counts(settings, org) -> dict[str, int]:
    """How many requests each rate shard holds in its window."""
    db = control.control_db(settings)
    return {s.id: len(s.get("times")) for s in control.org_ref(db, org).collection(control.RATE).stream()}


def test_an_orgs_concurrent_requests_share_transactions_and_decide_as_one_at_a_time(warehouse, settings):
    org = unique_slug()
    days = [date(2025, 1, 1) + timedelta(days=k) for k in range(12)]
    start = threading.Barrier(len(days))

    def reserve(day):
        start.wait()
        return reserve_run(
            warehouse, settings, _request(warehouse, settings, org, day), CONCURRENT_2, now=NOON
        )

    with ThreadPoolExecutor(len(days)) as pool:
        decisions = [answer.decision for answer in pool.map(reserve, days)]
    batches = admission._batcher(warehouse, settings, org).batches
    assert batches < len(days), batches  # grouped: one transaction decided several of the org's requests
    assert sorted(decisions) == ["ACCEPTED"] * 2 + ["CONCURRENCY_LIMIT_REACHED"] * 10
    quota = quota_row(warehouse, settings, org)
    assert quota["running"] == quota["daily_runs"] == quota["monthly_runs"] == 2
    runs = _runs(settings, org)
    assert len(runs) == 2 and all(run["slot_held"] and run["status"] == "PENDING" for run in runs)
    assert {row["org_slug"] for row in RunLog(warehouse, settings).list_for_org(org, 10)} == {org}


def test_one_batch_decides_each_outcome_as_alone(warehouse, settings):
    org = unique_slug()
    day, other_day = date(2025, 5, 1), date(2025, 5, 2)
    first = _request(warehouse, settings, org, day)
    assert reserve_run(warehouse, settings, first, CONCURRENT_1, now=NOON).decision == "ACCEPTED"
    db = control.control_db(settings)
    asks = [
        Ask(_request(warehouse, settings, org, day), UNLIMITED, NOON),  # the same request: a duplicate
        Ask(_request(warehouse, settings, org, other_day), CONCURRENT_1, NOON),  # no slot left
        Ask(_request(warehouse, settings, org, other_day), DAILY_1, NOON),  # one run today already
        Ask(_request(warehouse, settings, org, other_day), MONTHLY_1, NOON),
        Ask(_request(warehouse, settings, org, date(2025, 6, 1)), RATE_1, NOON),  # the first of its window
        Ask(_request(warehouse, settings, org, date(2025, 6, 2)), RATE_1, NOON),  # the second
    ]
    decisions, created = decide_org_batch(db, asks)
    assert [(d.decision, d.existing_id, d.existing_status) for d in decisions] == [
        ("DUPLICATE", first.pipeline_logging_id, "PENDING"),
        ("CONCURRENCY_LIMIT_REACHED", None, None),
        ("QUOTA_DAILY_EXCEEDED", None, None),
        ("QUOTA_MONTHLY_EXCEEDED", None, None),
        ("ACCEPTED", None, None),  # RATE_1 counts no slot: the org's quota document is not its limit
        ("RATE_LIMITED", None, None),
    ]
    assert [run["pipeline_logging_id"] for run in created] == [asks[4].request.pipeline_logging_id]
    assert not created[0]["slot_held"]  # a plan without a finite slot limit holds no slot
    assert quota_row(warehouse, settings, org)["running"] == 1
    assert sum(_rate_counts(settings, org).values()) == 1  # only RATE_1 asks are counted against a rate


def test_a_failing_transaction_reaches_every_caller_and_writes_nothing(warehouse, settings, monkeypatch):
    org = unique_slug()

    def fail(self, now):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(admission._Quota, "take", fail)  # inside the transaction, before its commit
    requests = [_request(warehouse, settings, org, date(2025, 7, k + 1)) for k in range(6)]
    start = threading.Barrier(len(requests))

    def reserve(request):
        start.wait()
        try:
            return reserve_run(warehouse, settings, request, CONCURRENT_2, now=NOON)
        except Exception as exc:  # noqa: BLE001 - what each caller got
            return exc

    with ThreadPoolExecutor(len(requests)) as pool:
        outcomes = list(pool.map(reserve, requests))
    assert all(isinstance(o, RuntimeError) and "injected failure" in str(o) for o in outcomes), outcomes
    assert _runs(settings, org) == [] and quota_row(warehouse, settings, org)["running"] == 0
    db = control.control_db(settings)
    assert list(control.org_ref(db, org).collection(control.INFLIGHT).stream()) == []


def test_two_identical_requests_from_two_instances_give_one_run_and_one_duplicate(warehouse, settings):
    org = unique_slug()
    requests = [_request(warehouse, settings, org, date(2025, 8, 1)) for _ in range(2)]
    start = threading.Barrier(2)

    def reserve(request):  # no shared lock or batch: as two instances would, only the transaction decides
        start.wait()
        return reserve_run(warehouse, settings, request, UNLIMITED, now=NOON, lock=contextlib.nullcontext())

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(reserve, requests))
    assert sorted(a.decision for a in answers) == ["ACCEPTED", "DUPLICATE"]
    accepted = next(r for r, a in zip(requests, answers) if a.decision == "ACCEPTED")
    duplicate = next(a for a in answers if a.decision == "DUPLICATE")
    assert (duplicate.existing_id, duplicate.existing_status) == (accepted.pipeline_logging_id, "PENDING")


@pytest.mark.parametrize("limit, shards", [(20, [20]), (60, [60]), (61, [31, 30]), (1200, [60] * 20)])
def test_rate_shards_add_up_to_the_limit_and_none_takes_more_than_a_write_a_second(limit, shards):
    assert rate_shards(limit) == shards and sum(shards) == limit
    assert max(shards) <= admission.RATE_PER_SHARD


def test_sharded_rate_holds_exactly_across_instances(warehouse, settings, monkeypatch):
    """A limit spread over several shards (2 per shard here, so 5 needs 3 shards), 8 requests from separate
    instances at once: exactly 5 pass the rate, no shard over its budget."""
    monkeypatch.setattr(admission, "RATE_PER_SHARD", 2)
    limits = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=None, requests_per_minute=5)
    org = unique_slug()
    days = [date(2025, 9, 1) + timedelta(days=k) for k in range(8)]
    start = threading.Barrier(len(days))

    def reserve(day):
        start.wait()
        request = _request(warehouse, settings, org, day)
        for attempt in range(10):
            try:
                return reserve_run(
                    warehouse, settings, request, limits, now=NOON, lock=contextlib.nullcontext()
                )
            except TransientError:
                # Contention past the transaction's own retries (a busy machine's emulator times locks out): the
                # API answers 503 and the caller sends the request again, after a pause, as Retry-After asks;
                # nothing of the failed try was written.
                if attempt == 9:
                    raise
                time.sleep(random.uniform(0.1, 0.5))

    with ThreadPoolExecutor(len(days)) as pool:
        decisions = [answer.decision for answer in pool.map(reserve, days)]
    assert decisions.count("ACCEPTED") == 5 and decisions.count("RATE_LIMITED") == 3
    counts = _rate_counts(settings, org)
    assert sorted(counts.values()) == [1, 2, 2] and len(_runs(settings, org)) == 5


RATE_20 = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=None, requests_per_minute=20)


def _burst(warehouse, settings, org, first_day: date, now: datetime) -> list:
    asks = [
        Ask(_request(warehouse, settings, org, first_day + timedelta(days=k)), RATE_20, now)
        for k in range(20)
    ]
    return decide_org_batch(control.control_db(settings), asks)[0]


def test_the_rate_is_a_sliding_window_not_a_fixed_minute(warehouse, settings):
    """20 a minute: 20 requests at 12:00:59 and 20 more at 12:01:00.5 (a fixed per-minute window would take all
    40 within 1.5 s); the window has room again a minute after the first 20, and Retry-After says when."""
    org = unique_slug()
    last_second = datetime(2026, 3, 31, 12, 0, 59, tzinfo=UTC)
    first = _burst(warehouse, settings, org, date(2025, 1, 1), last_second)
    assert [d.decision for d in first] == ["ACCEPTED"] * 20
    second = _burst(warehouse, settings, org, date(2025, 2, 1), last_second + timedelta(seconds=1.5))
    assert [d.decision for d in second] == ["RATE_LIMITED"] * 20
    assert second[0].retry_after == pytest.approx(58.5)
    assert refusal("RATE_LIMITED", RATE_20, retry_after=second[0].retry_after).headers == {
        "Retry-After": "59"
    }
    later = _burst(warehouse, settings, org, date(2025, 3, 1), last_second + timedelta(seconds=60.001))
    assert [d.decision for d in later] == ["ACCEPTED"] * 20
    assert sum(_rate_counts(settings, org).values()) == 20  # the first 20 left the window


def test_refused_requests_count_against_the_rate(warehouse, settings):
    org = unique_slug()
    counted = [count_refused_request(warehouse, settings, org, RATE_20, now=NOON) for _ in range(21)]
    assert [c.decision for c in counted] == ["COUNTED"] * 20 + ["RATE_LIMITED"]
    request = _request(warehouse, settings, org, date(2025, 4, 1))
    assert reserve_run(warehouse, settings, request, RATE_20, now=NOON).decision == "RATE_LIMITED"
    assert _runs(settings, org) == []
