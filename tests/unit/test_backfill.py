"""`dps backfill`'s logic without a stack: the range split, the state file, the loop against an in-memory run API
(quotas waited out, interrupted and resumed without a duplicate run, a failed run sent once more, terminal
refusals) and the summary's exact per-currency totals."""

from __future__ import annotations

from datetime import date

import pytest

from shared.backfill.client import ApiRefusal
from shared.backfill.plan import BackfillState, PlanError, Request, load_or_plan, split_range
from shared.backfill.progress import LineProgress
from shared.backfill.runner import Backfill, BackfillStopped
from shared.backfill.summary import as_text, cost_by_provider, summarize
from tests.kit.run_api_fake import FakeRunApi

D = date.fromisoformat
IDENTITY = {"org": "acme", "pipeline": "saas/cost/subscriptions", "first": "2025-08-01", "last": "2025-10-29",
            "days_per_run": 30, "api_url": "http://api.test"}  # fmt: skip
RANGES = [("2025-08-01", "2025-08-30"), ("2025-08-31", "2025-09-29"), ("2025-09-30", "2025-10-29")]


def test_split_cuts_the_range_in_date_order_within_the_pipelines_limit():
    assert split_range(D("2025-08-01"), D("2025-10-29"), 30, 90) == [(D(a), D(b)) for a, b in RANGES]
    assert split_range(D("2025-08-01"), D("2025-10-29"), 90, 90) == [(D("2025-08-01"), D("2025-10-29"))]
    assert split_range(D("2025-01-01"), D("2025-01-10"), 4, 90)[-1] == (D("2025-01-09"), D("2025-01-10"))
    assert split_range(D("2025-01-01"), D("2025-01-01"), 30, 90) == [(D("2025-01-01"), D("2025-01-01"))]
    with pytest.raises(PlanError, match="1..90"):
        split_range(D("2025-01-01"), D("2025-06-01"), 91, 90)
    with pytest.raises(PlanError, match="before --from"):
        split_range(D("2025-02-01"), D("2025-01-01"), 30, 90)


class Clock:
    """A clock the runner's sleeps advance: no test waits for real."""

    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def _backfill(api: FakeRunApi, state: BackfillState) -> tuple[Backfill, Clock]:
    clock = Clock()
    progress = LineProgress(state, slice_days=None)
    return Backfill(api.client(), state, progress, sleep=clock.sleep, clock=clock, poll_seconds=1.0), clock


def _state(tmp_path) -> BackfillState:
    cuts = split_range(D(IDENTITY["first"]), D(IDENTITY["last"]), 30, 90)
    return load_or_plan(tmp_path / "state.json", IDENTITY, cuts)


def _ranges(api: FakeRunApi) -> list[tuple[str, str, str]]:
    return [(r.start_date, r.end_date, r.status) for r in api.runs]


def test_one_concurrent_run_waits_for_its_own_runs_and_submits_in_date_order(tmp_path, capsys):
    api = FakeRunApi(concurrent_runs=1)
    backfill, clock = _backfill(api, state := _state(tmp_path))
    backfill.run()
    assert _ranges(api) == [(*dates, "COMPLETED") for dates in RANGES]
    assert "concurrency limit reached; waiting for a run to finish" in capsys.readouterr().err
    # One refused POST in all: it learns the limit and sends the next when its own run settles, without waiting
    # for Retry-After's 30 s.
    assert api.posts == len(RANGES) + 1 and 30 not in clock.sleeps
    assert all(
        r.status == "COMPLETED" and len(r.run_ids) == 1
        for r in load_or_plan(state.path, IDENTITY, []).requests
    )


def test_a_backfill_interrupted_while_its_post_was_answered_resumes_without_a_duplicate(tmp_path):
    api = FakeRunApi(concurrent_runs=1, lose_answer="interrupt")
    backfill, _ = _backfill(api, _state(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        backfill.run()
    saved = load_or_plan(tmp_path / "state.json", IDENTITY, [])
    assert saved.requests[0].submitting_since is not None and saved.requests[0].run_ids == []
    api.runs[
        0
    ].status = "COMPLETED"  # it finished while nobody watched: no duplicate guard would catch a resend
    backfill, _ = _backfill(api, saved)
    backfill.run()
    assert _ranges(api) == [(*dates, "COMPLETED") for dates in RANGES]
    assert saved.requests[0].run_ids == [api.runs[0].run_id]


def test_a_post_that_timed_out_is_looked_up_before_it_is_sent_again(tmp_path):
    api = FakeRunApi(concurrent_runs=2, lose_answer="timeout")
    backfill, _ = _backfill(api, state := _state(tmp_path))
    backfill.run()
    assert _ranges(api) == [(*dates, "COMPLETED") for dates in RANGES]  # the timed-out POST's run, adopted
    assert [len(r.run_ids) for r in state.requests] == [1, 1, 1]


def test_a_resume_awaits_runs_in_flight_and_never_resends_completed_ones(tmp_path):
    api = FakeRunApi(concurrent_runs=3)
    state = _state(tmp_path)
    backfill, _ = _backfill(api, state)
    backfill.submit(state.requests[0])
    backfill.submit(state.requests[1])
    api.runs[0].status = "COMPLETED"
    resumed = load_or_plan(state.path, IDENTITY, [])
    backfill, _ = _backfill(api, resumed)
    backfill.run()
    assert _ranges(api) == [(*dates, "COMPLETED") for dates in RANGES]  # three runs, none twice
    assert [len(r.run_ids) for r in resumed.requests] == [1, 1, 1]


def test_a_duplicate_answer_adopts_the_run_in_flight(tmp_path):
    api = FakeRunApi(concurrent_runs=3)
    state = _state(tmp_path)
    api.client().submit("acme", IDENTITY["pipeline"], *RANGES[0])  # e.g. sent by an earlier, lost state file
    backfill, _ = _backfill(api, state)
    backfill.run()
    assert len(api.runs) == 3 and state.requests[0].run_ids == [api.runs[0].run_id]


def test_a_failed_run_is_sent_once_more_then_reported(tmp_path, capsys):
    api = FakeRunApi(concurrent_runs=1, fail=[RANGES[1], RANGES[2], RANGES[2]])
    backfill, _ = _backfill(api, state := _state(tmp_path))
    backfill.run()
    statuses = [r.status for r in state.requests]
    assert statuses == ["COMPLETED", "COMPLETED", "FAILED"] and len(api.runs) == 5
    summary = summarize(state, [], "FAILED")
    assert summary["failures"] == [
        {"start_date": RANGES[2][0], "end_date": RANGES[2][1], "run_ids": state.requests[2].run_ids,
         "reason": "PROVIDER_UNAVAILABLE: the provider answered 503"}
    ]  # fmt: skip
    assert (summary["days_loaded"], summary["rows_written"], summary["runs_submitted"]) == (60, 20, 5)
    assert "PROVIDER_UNAVAILABLE" in capsys.readouterr().err


def test_quota_refusals_are_waited_out_with_retry_after_and_503_backs_off(tmp_path):
    api = FakeRunApi(concurrent_runs=1, refusals=[(429, "QUOTA_DAILY_EXCEEDED", {"Retry-After": "3600"}),
                                                  (503, "BACKEND_UNAVAILABLE", {}),
                                                  (429, "RATE_LIMITED", {"Retry-After": "7"})])  # fmt: skip
    backfill, clock = _backfill(api, state := _state(tmp_path))
    backfill.run()
    assert all(r.status == "COMPLETED" for r in state.requests) and len(api.runs) == 3
    assert clock.now >= 3600 + 1 + 7  # it waited the quota's Retry-After, backed off the 503, then the rate's


def test_a_terminal_refusal_stops_with_the_apis_code(tmp_path):
    api = FakeRunApi(refusals=[(403, "SUBSCRIPTION_SUSPENDED", {})])
    backfill, _ = _backfill(api, state := _state(tmp_path))
    with pytest.raises(BackfillStopped, match="SUBSCRIPTION_SUSPENDED"):
        backfill.run()
    assert api.runs == [] and state.requests[0].submitting_since is None


def test_an_api_that_stays_down_stops_the_backfill(tmp_path):
    api = FakeRunApi(refusals=[(503, "BACKEND_UNAVAILABLE", {})] * 20)
    backfill, _ = _backfill(api, _state(tmp_path))
    with pytest.raises(BackfillStopped, match="10 times in a row"):
        backfill.run()
    assert (
        ApiRefusal(0, "API_UNREACHABLE", "").waitable and not ApiRefusal(422, "INVALID_REQUEST", "").waitable
    )


def test_a_state_file_of_another_backfill_is_refused(tmp_path):
    _state(tmp_path).save()
    with pytest.raises(PlanError, match="days_per_run"):
        load_or_plan(tmp_path / "state.json", {**IDENTITY, "days_per_run": 10}, [])


def test_slices_count_toward_progress_and_a_run_without_slices_counts_one():
    request = Request("2025-08-01", "2025-10-29")
    # 90 days: three 31-day slices; no slice_days, or one larger than the range: one delivery.
    assert [request.expected_slices(days) for days in (31, None, 92)] == [3, 1, 1]
    request.status, request.run_ids, request.slices_total, request.slices_done = "RUNNING", ["r"], 3, 2
    assert (request.expected_slices(31), request.slices_finished(31)) == (3, 2)


def test_summary_totals_are_exact_per_currency_and_never_mixed():
    costs = [
        [{"provider_name": "Slack", "billing_currency": "USD", "rows": 30, "billed_cost": "87.500000000",
          "effective_cost": "87.499999999"},
         {"provider_name": "Figma", "billing_currency": "EUR", "rows": 30, "billed_cost": "0E-9",
          "effective_cost": "35.506849315"}],
        [{"provider_name": "Slack", "billing_currency": "USD", "rows": 30, "billed_cost": "0.1",
          "effective_cost": "0.2"},
         {"provider_name": "Slack", "billing_currency": "EUR", "rows": 1, "billed_cost": "0.000000001",
          "effective_cost": "0.000000001"}],
    ]  # fmt: skip
    assert cost_by_provider(costs) == [
        {"provider_name": "Figma", "billing_currency": "EUR", "rows": 30, "billed_cost": "0.000000000",
         "effective_cost": "35.506849315"},
        {"provider_name": "Slack", "billing_currency": "EUR", "rows": 1, "billed_cost": "0.000000001",
         "effective_cost": "0.000000001"},
        {"provider_name": "Slack", "billing_currency": "USD", "rows": 60, "billed_cost": "87.600000000",
         "effective_cost": "87.699999999"},
    ]  # fmt: skip
    state = BackfillState(**IDENTITY, requests=[Request(*RANGES[0], ["r1"], "COMPLETED", rows=60)])
    text = as_text(summarize(state, costs, "COMPLETED"))
    assert "days loaded 30 of 30; rows written 60" in text and "USD  billed" in text


def test_a_stopped_summary_names_the_apis_code_and_message(tmp_path):
    stopped = {"code": "SUBSCRIPTION_SUSPENDED", "message": "The org's subscription is suspended."}
    summary = summarize(_state(tmp_path), [], "STOPPED", stopped)
    assert summary["stopped"] == stopped and summary["days_loaded"] == 0
    assert (
        as_text(summary)
        .splitlines()[0]
        .endswith("STOPPED (SUBSCRIPTION_SUSPENDED: The org's subscription is suspended.)")
    )
