"""Runs a pipeline's steps in dependency order, honouring each step's retry policy and timeouts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.platform.errors import PipelineError, TerminalError, TransientError
from shared.platform.logs import log, log_context
from shared.platform.settings import Settings
from shared.providers.contract import Credential, Processor, StepContext
from shared.runs.model import RunRequest
from shared.runs.run_log import RunLog
from shared.warehouse.adapter import Warehouse
from shared.warehouse.schemas import load_table_specs
from shared.worker.crash_points import EXTRACTED, LOADED, crash_point
from shared.worker.pipelines import PipelineConfig, StepConfig, ordered_steps

# Deliveries that may claim one run; past this a transient failure fails the run instead of redelivering
# (the subscription's own dead-letter limit is 5; this keeps the run row from waiting on the dead letter).
MAX_RUN_ATTEMPTS = 4  # and the same for a slice of a fanned-out run


class RunCancelled(Exception):
    """The run was cancelled; the executor stopped at a step boundary."""


@dataclass
class Executor:
    """Executes one run; dependencies are injected so tests can pass fakes for time and HTTP."""

    warehouse: Warehouse
    settings: Settings
    run_log: RunLog
    processor_for: Callable[[str], Processor]  # the run's provider's: Provider.processor
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    http_transport: object = None
    request_timeout: float | None = None  # seconds one provider request may take; None: http_paging's default
    is_cancelled: Callable[[], bool] = lambda: False
    # Seconds this delivery may work (Settings.delivery_max_seconds): the run's budget is the lesser of it and the
    # pipeline's timeout. None: the pipeline's timeout alone.
    delivery_seconds: float | None = None
    exact_window: bool = False  # a slice: load exactly [start, end] (see StepContext.exact_window)

    def execute(self, request: RunRequest, config: PipelineConfig, credential: Credential) -> int:
        """Run every step; returns the rows written. Raises TransientError or TerminalError on failure."""
        budget = min(config.timeout_seconds, self.delivery_seconds or config.timeout_seconds)
        run_deadline = self.clock() + budget
        total = 0
        for step in ordered_steps(config.steps):
            if self.is_cancelled():
                raise RunCancelled(request.pipeline_logging_id)
            if self.clock() >= run_deadline:
                raise TerminalError("RUN_TIMEOUT", f"The run exceeded its {budget:.0f} s budget.")
            total += self._run_step(request, step, credential, run_deadline)
        return total

    def _run_step(
        self, request: RunRequest, step: StepConfig, credential: Credential, run_deadline: float
    ) -> int:
        with log_context(step_id=step.step_id):  # every line logged inside the step names it
            return self._run_step_attempts(request, step, credential, run_deadline)

    def _run_step_attempts(
        self, request: RunRequest, step: StepConfig, credential: Credential, run_deadline: float
    ) -> int:
        policy = step.retry
        for attempt in range(1, policy.max_attempts + 1):
            started = datetime.now(UTC)
            try:
                rows = self._attempt(
                    request, step, credential, min(self.clock() + step.timeout_seconds, run_deadline)
                )
            except PipelineError as error:
                retriable = isinstance(error, TransientError) and attempt < policy.max_attempts
                wait = self._backoff(policy, attempt, error, run_deadline) if retriable else None
                self._record(
                    request, step, attempt, "RETRYING" if wait is not None else "FAILED", started, error=error
                )
                if wait is None:
                    raise
                self.sleep(wait)
                continue
            crash_point(LOADED, step.step_id)
            self._record(request, step, attempt, "COMPLETED", started, rows=rows)
            return rows
        raise AssertionError("unreachable: the loop returns or raises")

    def _attempt(self, request: RunRequest, step: StepConfig, credential: Credential, deadline: float) -> int:
        processor = self.processor_for(step.ps_type)
        ctx = StepContext(
            org_slug=request.org_slug,
            run_id=request.pipeline_logging_id,
            start_date=request.start_date,
            end_date=request.end_date,
            credential=credential,
            settings=self.settings,
            deadline=deadline,
            http_transport=self.http_transport,
            sleep=self.sleep,
            request_timeout=self.request_timeout,
            force_refresh=request.force_refresh,
            destination_table=step.destination_table,
            exact_window=self.exact_window,
        )
        if processor.run is not None:
            # The processor loads atomically itself and must not commit past ctx.deadline (it checks before
            # its final transaction); a result it returns is already loaded, so there is nothing to discard.
            return processor.run(ctx, self.warehouse)
        rows = processor.transform(processor.extract(ctx), ctx)
        if self.clock() > deadline:  # never load the result of a step that overran: it may be partial
            raise TransientError(
                "STEP_TIMEOUT",
                f"Step {step.step_id} ran out of time (step limit {step.timeout_seconds:.0f} s).",
            )
        crash_point(EXTRACTED, step.step_id)
        spec = load_table_specs(self.settings.config_dir, "org")[step.destination_table]
        dataset = self.settings.org_dataset(request.org_slug)
        return self.warehouse.replace_slice(dataset, spec, rows, request.start_date, request.end_date)

    def _backoff(self, policy, attempt: int, error: TransientError, run_deadline: float) -> float | None:
        """Seconds to wait before the next attempt, or None when the wait does not fit in the run's budget."""
        wait = min(policy.initial_backoff_seconds * 2 ** (attempt - 1), policy.max_backoff_seconds)
        wait = wait * (0.5 + random.random() / 2)  # jitter so retries of many runs do not align
        if error.retry_after:
            wait = max(wait, error.retry_after)
        # Sleeping into the run's deadline only to find no time left for the attempt wastes the instance:
        # hand the run back at once so Pub/Sub redelivers it with its own backoff.
        return wait if self.clock() + wait < run_deadline else None

    def _record(self, request, step, attempt, status, started, *, rows=None, error=None) -> None:
        code = error.code if error else None
        message = error.message if error else None
        self.run_log.log_step(
            request.org_slug,
            request.pipeline_logging_id,
            step_id=step.step_id,
            ps_type=step.ps_type,
            attempt=attempt,
            status=status,
            started_at=started,
            rows=rows,
            error_code=code,
            error_message=message,
            defer=status == "COMPLETED",  # written with the run's status change, see RunLog.log_step
        )
        log(
            "ERROR" if status == "FAILED" else "WARNING" if error else "INFO",
            f"step {step.step_id} attempt {attempt}: {status}",
            org_slug=request.org_slug,
            pipeline_logging_id=request.pipeline_logging_id,
            step_id=step.step_id,
            rows=rows,
            error_code=code,
        )
