"""The reservation transaction against the BigQuery emulator, with the clock injected: limits, resets, release."""

import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.platform.errors import TransientError
from shared.platform.settings import central_table
from shared.runs import control
from shared.runs.admission import refusal, reserve_run
from shared.runs.model import COMPLETED, PENDING, RUNNING
from shared.runs.run_log import RunLog
from shared.tenancy.subscriptions import PlanLimits
from tests.kit.runs import quota_row

NOON = datetime(2026, 3, 31, 12, 0, 5, tzinfo=UTC)


@pytest.fixture
def org(new_org):
    return new_org()["org_slug"]


def _reserve(warehouse, settings, org, limits, now, day=date(2025, 1, 1)):
    request = RunLog(warehouse, settings).new_request(org, "openai/cost/usage_cost", "openai", day, day)
    return request, reserve_run(warehouse, settings, request, limits, now=now)


def _days(n):
    return [date(2025, 1, 1) + timedelta(days=i) for i in range(n)]


def test_daily_limit_refuses_then_resets_at_utc_midnight(warehouse, settings, org):
    limits = PlanLimits(daily_runs=2, monthly_runs=None, concurrent_runs=None, requests_per_minute=None)
    decisions = [_reserve(warehouse, settings, org, limits, NOON, d)[1].decision for d in _days(3)]
    assert decisions == ["ACCEPTED", "ACCEPTED", "QUOTA_DAILY_EXCEEDED"]
    tomorrow = NOON + timedelta(hours=12)  # 00:00:05 UTC on April 1st
    assert _reserve(warehouse, settings, org, limits, tomorrow, date(2025, 2, 1))[1].decision == "ACCEPTED"
    quota = quota_row(warehouse, settings, org)
    assert quota["day"] == date(2026, 4, 1) and quota["daily_runs"] == 1
    assert quota["month"] == date(2026, 4, 1) and quota["monthly_runs"] == 1  # a new month too
    error = refusal("QUOTA_DAILY_EXCEEDED", limits, NOON)
    assert error.status == 429 and error.headers["Retry-After"] == str(12 * 3600 - 5)


def test_monthly_limit_counts_across_days(warehouse, settings, org):
    limits = PlanLimits(daily_runs=None, monthly_runs=2, concurrent_runs=None, requests_per_minute=None)
    first_of_month = datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert (
        _reserve(warehouse, settings, org, limits, first_of_month, date(2025, 1, 1))[1].decision == "ACCEPTED"
    )
    assert _reserve(warehouse, settings, org, limits, NOON, date(2025, 1, 2))[1].decision == "ACCEPTED"
    assert (
        _reserve(warehouse, settings, org, limits, NOON, date(2025, 1, 3))[1].decision
        == "QUOTA_MONTHLY_EXCEEDED"
    )
    assert refusal("QUOTA_MONTHLY_EXCEEDED", limits, NOON).headers["Retry-After"] == str(12 * 3600 - 5)


def test_rate_limit_counts_every_request_in_a_sliding_minute(warehouse, settings, org):
    limits = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=None, requests_per_minute=3)
    answers = [_reserve(warehouse, settings, org, limits, NOON, d)[1] for d in _days(3)]
    answers.append(_reserve(warehouse, settings, org, limits, NOON, date(2025, 1, 1))[1])  # a duplicate
    answers.append(_reserve(warehouse, settings, org, limits, NOON, date(2025, 3, 1))[1])
    assert [a.decision for a in answers] == [
        "ACCEPTED",
        "ACCEPTED",
        "ACCEPTED",
        "RATE_LIMITED",
        "RATE_LIMITED",
    ]
    assert refusal("RATE_LIMITED", limits, retry_after=answers[-1].retry_after).headers["Retry-After"] == "60"
    a_minute_later = NOON + timedelta(minutes=1)
    assert (
        _reserve(warehouse, settings, org, limits, a_minute_later, date(2025, 3, 1))[1].decision == "ACCEPTED"
    )


def test_racing_instances_cannot_overbook_the_transaction_alone_decides(warehouse, settings, org):
    """No in-process lock here, as between separate instances: 4 racing reservations, limit 2 (Firestore's
    emulator stalls each colliding transaction ~2 s, so more racers only make the test slower, not stronger)."""
    limits = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=2, requests_per_minute=None)
    run_log = RunLog(warehouse, settings)

    def race(day):
        request = run_log.new_request(org, "openai/cost/usage_cost", "openai", day, day)
        try:
            return reserve_run(
                warehouse, settings, request, limits, now=NOON, lock=contextlib.nullcontext()
            ).decision
        except (
            TransientError
        ):  # lost every conflict within the retry budget: the API answers 503, retry later
            return "GAVE_UP"

    days = _days(6)
    with ThreadPoolExecutor(4) as pool:
        decisions = list(pool.map(race, days[:4]))
    accepted = decisions.count("ACCEPTED")
    # The first commit always wins; a loaded machine may make some racers give up, never overbook.
    assert 1 <= accepted <= 2, decisions
    assert set(decisions) <= {"ACCEPTED", "CONCURRENCY_LIMIT_REACHED", "GAVE_UP"}
    # The late-comers, one at a time, get exactly the slots left.
    late = [race(day) for day in days[4:]]
    assert late.count("ACCEPTED") == 2 - accepted, late
    assert quota_row(warehouse, settings, org)["running"] == 2
    db = control.control_db(settings)
    held = [s for s in control.org_ref(db, org).collection(control.RUNS).stream() if s.get("slot_held")]
    assert len(held) == 2  # the counter and the run documents agree


def test_release_happens_exactly_once_on_every_ending(warehouse, settings, org):
    limits = PlanLimits(daily_runs=None, monthly_runs=None, concurrent_runs=3, requests_per_minute=None)
    run_log = RunLog(warehouse, settings)
    runs = [_reserve(warehouse, settings, org, limits, NOON, d)[0] for d in _days(3)]
    assert quota_row(warehouse, settings, org)["running"] == 3
    done, failed, cancelled = (r.pipeline_logging_id for r in runs)
    assert run_log.transition(org, done, PENDING, RUNNING)
    assert run_log.transition(org, done, RUNNING, COMPLETED)
    assert not run_log.transition(org, done, RUNNING, COMPLETED)  # a second completion moves nothing
    assert run_log.fail(org, failed, PENDING, "X", "failed")
    assert run_log.transition(org, cancelled, PENDING, "CANCELLED")
    assert not run_log.transition(org, cancelled, PENDING, "CANCELLED")
    quota = quota_row(warehouse, settings, org)
    assert quota["running"] == 0 and quota["daily_runs"] == 3  # slots back; counts stay (runs were accepted)
    transitions = warehouse.query(
        f"SELECT COUNT(*) AS n FROM `{central_table(settings, 'org_meta_state_transitions')}` "
        "WHERE pipeline_logging_id = @id",
        {"id": done},
    )
    assert transitions[0]["n"] == 3  # requested, claimed, completed: one audit row per real move


def test_a_refund_goes_to_the_day_the_run_was_counted(warehouse, settings, org):
    # Counted plans only: a plan without any finite slot or count limit holds no slot and counts nothing.
    limits = PlanLimits(daily_runs=100, monthly_runs=None, concurrent_runs=None, requests_per_minute=None)
    run_log = RunLog(warehouse, settings)
    yesterday_run = _reserve(warehouse, settings, org, limits, NOON - timedelta(days=1), date(2025, 1, 1))[0]
    _reserve(warehouse, settings, org, limits, NOON, date(2025, 1, 2))
    assert run_log.fail(org, yesterday_run.pipeline_logging_id, PENDING, "PUBLISH_FAILED", "x", refund=True)
    quota = quota_row(warehouse, settings, org)
    assert quota["daily_runs"] == 1  # today's count is untouched by yesterday's refund
    assert quota["monthly_runs"] == 1  # same month: the refund applies there
    assert quota["running"] == 1
