"""The executor honours every field of a pipeline config: order, retries, backoff, timeouts, cancellation."""

from datetime import date

import pytest

from shared.platform.errors import TerminalError, TransientError
from shared.platform.settings import settings_from_env
from shared.providers.contract import Credential, Processor
from shared.runs.model import RunRequest
from shared.worker.executor import Executor, RunCancelled
from shared.worker.pipelines import PipelineConfig
from tests.kit.steps import Clock, SliceRecorder, StepRecorder

SETTINGS = settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k"})
REQUEST = RunRequest(
    "00000000-0000-4000-8000-000000000000",
    "acmecorp",
    "openai/cost/usage_cost",
    "openai",
    date(2025, 11, 1),
    date(2025, 11, 7),
)
CREDENTIAL = Credential("openai", "sk-test")


def _config(max_attempts=3, step_timeout=300, run_timeout=900):
    step = {
        "ps_type": "openai.usage_completions",
        "timeout_seconds": step_timeout,
        "retry": {"max_attempts": max_attempts, "initial_backoff_seconds": 2, "max_backoff_seconds": 3},
    }
    return PipelineConfig.model_validate(
        {
            "pipeline_id": "openai/cost/usage_cost",
            "provider": "openai",
            "domain": "cost",
            "pipeline": "usage_cost",
            "timeout_seconds": run_timeout,
            "steps": [
                {
                    **step,
                    "step_id": "costs",
                    "destination_table": "openai_costs_daily",
                    "depends_on": ["usage"],
                },
                {**step, "step_id": "usage", "destination_table": "openai_usage_daily"},
            ],
        }
    )


def _executor(behaviours, clock=None, **kw):
    """behaviours: ps_type-independent list of callables, one per extract call."""
    clock = clock or Clock()
    calls = iter(behaviours)

    def extract(ctx):
        return next(calls)(ctx)

    processor = Processor(extract=extract, transform=lambda records, ctx: list(records))
    warehouse, run_log = SliceRecorder(), StepRecorder()
    executor = Executor(
        warehouse,
        SETTINGS,
        run_log,
        sleep=clock.sleep,
        clock=clock,
        processor_for=lambda ps_type: processor,
        **kw,
    )
    return executor, warehouse, run_log, clock


def ok(rows):
    return lambda ctx: rows


def fail(error):
    def raise_(ctx):
        raise error

    return raise_


def test_steps_run_in_dependency_order_and_load_the_requested_slice():
    executor, warehouse, run_log, _ = _executor([ok([{"a": 1}]), ok([{"b": 1}, {"b": 2}])])
    assert executor.execute(REQUEST, _config(), CREDENTIAL) == 3
    assert [(load[1], len(load[2]), load[3], load[4]) for load in warehouse.loads] == [
        ("openai_usage_daily", 1, date(2025, 11, 1), date(2025, 11, 7)),
        ("openai_costs_daily", 2, date(2025, 11, 1), date(2025, 11, 7)),
    ]
    assert warehouse.loads[0][0] == "acmecorp_local"
    assert run_log.steps == [("usage", 1, "COMPLETED", None), ("costs", 1, "COMPLETED", None)]


def test_transient_errors_are_retried_with_capped_backoff():
    flaky = TransientError("PROVIDER_UNAVAILABLE", "503")
    executor, _warehouse, run_log, clock = _executor([fail(flaky), fail(flaky), ok([]), ok([])])
    executor.execute(REQUEST, _config(), CREDENTIAL)
    assert [s[:3] for s in run_log.steps[:3]] == [
        ("usage", 1, "RETRYING"),
        ("usage", 2, "RETRYING"),
        ("usage", 3, "COMPLETED"),
    ]
    assert len(clock.sleeps) == 2 and all(0 < s <= 3 for s in clock.sleeps)


def test_retry_after_is_honoured():
    executor, _, _, clock = _executor(
        [fail(TransientError("RATE_LIMITED", "429", retry_after=20)), ok([]), ok([])]
    )
    executor.execute(REQUEST, _config(), CREDENTIAL)
    assert clock.sleeps == [20]


def test_attempts_are_capped_then_the_transient_error_propagates():
    flaky = TransientError("PROVIDER_UNAVAILABLE", "503")
    executor, warehouse, run_log, _ = _executor(
        [fail(flaky)] * 5,
    )
    with pytest.raises(TransientError):
        executor.execute(REQUEST, _config(max_attempts=2), CREDENTIAL)
    assert [s[2] for s in run_log.steps] == ["RETRYING", "FAILED"] and warehouse.loads == []


def test_terminal_errors_are_not_retried_and_later_steps_do_not_run():
    executor, _warehouse, run_log, clock = _executor([fail(TerminalError("PROVIDER_AUTH_FAILED", "401"))])
    with pytest.raises(TerminalError):
        executor.execute(REQUEST, _config(), CREDENTIAL)
    assert run_log.steps == [("usage", 1, "FAILED", "PROVIDER_AUTH_FAILED")] and clock.sleeps == []


def test_a_step_that_overruns_its_timeout_is_not_loaded():
    clock = Clock()

    def slow(ctx):
        clock.now += 301
        return [{"late": True}]

    executor, warehouse, _run_log, _ = _executor([slow], clock=clock)
    with pytest.raises(TransientError, match="ran out of time"):
        executor.execute(REQUEST, _config(max_attempts=1), CREDENTIAL)
    assert warehouse.loads == []


def test_no_step_starts_after_the_run_budget():
    clock = Clock()

    def slow(ctx):
        clock.now += 100
        return []

    executor, warehouse, run_log, _ = _executor([slow, slow], clock=clock)
    with pytest.raises(TransientError, match="ran out of time"):
        executor.execute(REQUEST, _config(run_timeout=50, step_timeout=200), CREDENTIAL)
    # The step overran the run's budget: not loaded, not retried, and the next step never started.
    assert warehouse.loads == [] and run_log.steps == [("usage", 1, "FAILED", "STEP_TIMEOUT")]


def test_cancellation_stops_at_a_step_boundary():
    checks = iter([False, True])
    executor, warehouse, _, _ = _executor([ok([{"a": 1}]), ok([])], is_cancelled=lambda: next(checks))
    with pytest.raises(RunCancelled):
        executor.execute(REQUEST, _config(), CREDENTIAL)
    assert [load[1] for load in warehouse.loads] == ["openai_usage_daily"]


def test_a_retry_after_beyond_the_run_budget_is_handed_back_without_sleeping():
    executor, warehouse, run_log, clock = _executor(
        [fail(TransientError("PROVIDER_RATE_LIMITED", "429", retry_after=3600)), ok([])]
    )
    with pytest.raises(TransientError):
        executor.execute(REQUEST, _config(), CREDENTIAL)
    assert clock.sleeps == [] and warehouse.loads == []
    assert run_log.steps == [("usage", 1, "FAILED", "PROVIDER_RATE_LIMITED")]


def test_the_executors_sleep_and_request_timeout_reach_the_step():
    seen = []
    executor, _, _, clock = _executor([lambda ctx: seen.append(ctx) or [], ok([])], request_timeout=0.5)
    executor.execute(REQUEST, _config(), CREDENTIAL)
    assert seen[0].sleep == clock.sleep and seen[0].request_timeout == 0.5
