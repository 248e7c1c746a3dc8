"""The executor's second processor form, `run(ctx, warehouse)`: same order, retries, timeouts and cancellation."""

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
    "00000000-0000-4000-8000-000000000001",
    "acmecorp",
    "gcp/cost/billing",
    "gcp",
    date(2025, 11, 1),
    date(2025, 11, 5),
    force_refresh=True,
)
CREDENTIAL = Credential("gcp", "{}", {"billing_export_table": "p.d.t"})


def _config(max_attempts=3, step_timeout=300):
    retry = {"max_attempts": max_attempts, "initial_backoff_seconds": 2, "max_backoff_seconds": 3}
    return PipelineConfig.model_validate(
        {
            "pipeline_id": "gcp/cost/billing",
            "provider": "gcp",
            "domain": "cost",
            "pipeline": "billing",
            "steps": [
                {
                    "step_id": "focus",
                    "ps_type": "gcp.b",
                    "destination_table": "cost_focus",
                    "depends_on": ["billing"],
                    "timeout_seconds": step_timeout,
                    "retry": retry,
                },
                {
                    "step_id": "billing",
                    "ps_type": "gcp.a",
                    "destination_table": "gcp_billing_daily",
                    "timeout_seconds": step_timeout,
                    "retry": retry,
                },
            ],
        }
    )


def _executor(behaviours, clock=None, **kw):
    """behaviours: one callable(ctx, warehouse) per run() call, in order."""
    clock, calls, seen = clock or Clock(), iter(behaviours), []

    def run(ctx, warehouse):
        seen.append((ctx, warehouse))
        return next(calls)(ctx)

    warehouse, run_log = SliceRecorder(), StepRecorder()
    executor = Executor(
        warehouse,
        SETTINGS,
        run_log,
        sleep=clock.sleep,
        clock=clock,
        processor_for=lambda ps_type: Processor(run=run),
        **kw,
    )
    return executor, warehouse, run_log, clock, seen


def rows(n):
    return lambda ctx: n


def fail(error):
    def raise_(ctx):
        raise error

    return raise_


def test_run_processors_get_the_context_and_the_warehouse_and_skip_replace_slice():
    executor, warehouse, run_log, _, seen = _executor([rows(7), rows(5)])
    assert executor.execute(REQUEST, _config(), CREDENTIAL) == 12
    assert warehouse.loads == []  # the processor loaded itself; the executor replaced nothing
    assert [ctx.destination_table for ctx, _ in seen] == [
        "gcp_billing_daily",
        "cost_focus",
    ]  # dependency order
    ctx, passed = seen[0]
    assert passed is warehouse and ctx.force_refresh and ctx.credential is CREDENTIAL
    assert (ctx.org_slug, ctx.start_date, ctx.end_date) == ("acmecorp", date(2025, 11, 1), date(2025, 11, 5))
    assert run_log.steps == [("billing", 1, "COMPLETED", None), ("focus", 1, "COMPLETED", None)]


def test_transient_failures_of_a_run_processor_are_retried_with_backoff():
    flaky = TransientError("PROVIDER_UNAVAILABLE", "503")
    executor, _, run_log, clock, _ = _executor([fail(flaky), rows(3), rows(0)])
    assert executor.execute(REQUEST, _config(), CREDENTIAL) == 3
    assert [s[:3] for s in run_log.steps] == [
        ("billing", 1, "RETRYING"),
        ("billing", 2, "COMPLETED"),
        ("focus", 1, "COMPLETED"),
    ]
    assert len(clock.sleeps) == 1 and 0 < clock.sleeps[0] <= 3


def test_a_terminal_failure_stops_the_run_before_dependent_steps():
    executor, _, run_log, clock, seen = _executor(
        [fail(TerminalError("INVALID_BILLING_EXPORT_TABLE", "bad"))]
    )
    with pytest.raises(TerminalError):
        executor.execute(REQUEST, _config(), CREDENTIAL)
    assert run_log.steps == [("billing", 1, "FAILED", "INVALID_BILLING_EXPORT_TABLE")] and len(seen) == 1
    assert clock.sleeps == []


def test_the_step_deadline_reaches_the_run_processor():
    clock = Clock()
    deadlines = []

    def record(ctx):
        deadlines.append(ctx.deadline)
        return 1

    executor, *_ = _executor([record, record], clock=clock)
    executor.execute(REQUEST, _config(step_timeout=120), CREDENTIAL)
    assert deadlines == [120.0, 120.0]  # clock at 0: min(step timeout, run budget)


def test_cancellation_is_honoured_between_run_steps():
    checks = iter([False, True])
    executor, _, _, _, seen = _executor([rows(1), rows(1)], is_cancelled=lambda: next(checks))
    with pytest.raises(RunCancelled):
        executor.execute(REQUEST, _config(), CREDENTIAL)
    assert len(seen) == 1


@pytest.mark.parametrize(
    "kwargs", [{}, {"extract": lambda c: iter(())}, {"run": lambda c, w: 0, "transform": lambda r, c: []}]
)
def test_a_processor_is_either_rows_or_run(kwargs):
    with pytest.raises(ValueError):
        Processor(**kwargs)
