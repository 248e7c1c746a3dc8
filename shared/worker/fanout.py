"""Fan-out: a run whose window spans more days than its pipeline's `slice_days` (or that ran out of a delivery's
time) is split into slices, each its own message on the provider's topic, processed in parallel; the run
completes with its last slice and fails with the first slice that fails for good."""

from __future__ import annotations

import dataclasses
from datetime import date

from shared.platform.errors import ApiError, PipelineError, TerminalError, TransientError, classify_unexpected
from shared.platform.logs import log
from shared.providers.contract import Provider
from shared.runs import slices
from shared.runs.model import CANCELLED, RunRequest, SliceRef
from shared.runs.run_log import RunLog, record_history
from shared.worker.executor import MAX_RUN_ATTEMPTS, RunCancelled
from shared.worker.pipelines import PipelineConfig

# A delivery that ran out of time on these, with more than one day to load, is split instead of failed.
OUT_OF_TIME = ("STEP_TIMEOUT", "RUN_TIMEOUT")


def load_window(provider: Provider, request: RunRequest) -> tuple[date, date]:
    """The days a run of the request loads (the provider may widen them, e.g. a look-back)."""
    if provider.load_window is None:
        return request.start_date, request.end_date
    return provider.load_window(request.start_date, request.end_date)


def planned_cuts(provider: Provider, config: PipelineConfig | None, request: RunRequest) -> list | None:
    """The slices' windows when the run must fan out (its window spans more than `slice_days`), else None."""
    if config is None or config.slice_days is None:
        return None
    first, last = load_window(provider, request)
    if (last - first).days + 1 <= config.slice_days:
        return None
    return slices.windows(first, last, config.slice_days)


def publish_slices(deps, request: RunRequest, pieces: list[SliceRef]) -> None:
    """One message per slice on the run's topic; a refused publish is transient (the delivery comes again and
    publishes what is still pending: a slice published twice is claimed once)."""
    from shared.runs.publish import publish_run

    for piece in pieces:
        try:
            publish_run(deps.publisher_client(), deps.settings, dataclasses.replace(request, slice=piece))
        except ApiError as error:
            raise TransientError("BACKEND_UNAVAILABLE", "A slice of the run could not be queued.") from error


def fan_out(request: RunRequest, message_id: str | None, cuts: list, run_log: RunLog, deps) -> str:
    """Claim the run by creating its slices, publish them, and acknowledge."""
    org, run_id = request.org_slug, request.pipeline_logging_id
    decided = slices.fan_out(run_log.db, org, run_id, cuts, message_id)
    if decided.run is not None:
        record_history(run_log.db, run_log.history, [(decided.run, decided.moves)], [])
    if not decided.slices:
        log(
            "INFO",
            "duplicate delivery ignored (run already claimed)",
            org_slug=org,
            pipeline_logging_id=run_id,
        )
        return "duplicate"
    publish_slices(deps, request, decided.slices)
    slices.mark_published(run_log.db, org, run_id)
    log("INFO", f"run fanned out into {len(decided.slices)} slices", org_slug=org, pipeline_logging_id=run_id)
    return "fanned_out"


def split_whole_run(provider: Provider, request: RunRequest, run_log: RunLog, deps) -> bool:
    """A run delivered whole ran out of time: continue it as two slices of its window. False if it spans a day."""
    first, last = load_window(provider, request)
    if first == last:
        return False
    whole = SliceRef(0, first, last)
    pieces = slices.split(
        run_log.db, request.org_slug, request.pipeline_logging_id, None, slices.halves(whole)
    )
    publish_slices(deps, request, pieces)
    slices.mark_published(run_log.db, request.org_slug, request.pipeline_logging_id)
    return bool(pieces)


def execute_slice(request: RunRequest, config, run_log: RunLog, deps, run_slice) -> str:
    """One slice's delivery: claim it under a lease, load its days, settle it (and with the last, the run)."""
    org, run_id, piece = request.org_slug, request.pipeline_logging_id, request.slice
    ids = {"org_slug": org, "pipeline_logging_id": run_id, "slice": piece.index}
    outcome, held = slices.claim_slice(
        run_log.db, org, run_id, piece.index, deps.settings.delivery_max_seconds
    )
    if outcome == "settled":
        log("INFO", "slice of a settled run dropped", **ids)
        return "dropped"
    if outcome == "duplicate":
        log("INFO", f"duplicate slice delivery ignored (slice is {held['status']})", **ids)
        return "duplicate"
    if outcome == "busy":
        raise TransientError("SLICE_BUSY", "Another delivery is loading this slice.")
    sliced = dataclasses.replace(request, start_date=piece.start_date, end_date=piece.end_date)
    try:
        if config is None:
            raise TerminalError("PIPELINE_NOT_FOUND", f"Pipeline {request.pipeline_id} no longer exists.")
        rows = run_slice(sliced, exact_window=True)
    except RunCancelled:
        run_log.flush_steps(org, run_id)
        return "cancelled"
    except Exception as exc:  # noqa: BLE001 - every failure settles the slice
        error = exc if isinstance(exc, PipelineError) else classify_unexpected(exc)
        return _settle_failed_slice(request, held, error, run_log, deps, ids)
    # The slice's step rows first: once the last slice is counted the run reads COMPLETED, with every step row.
    run_log.flush_steps(org, run_id)
    completed = slices.finish_slice(run_log.db, org, run_id, piece.index, rows)
    if completed and completed[0] is not None:
        record_history(run_log.db, run_log.history, [(completed[0], completed[1])], [])
        log("INFO", "run completed (last slice)", rows=rows, **ids)
        return "completed"
    log("INFO", "slice completed", rows=rows, **ids)
    return "slice_completed"


def _settle_failed_slice(request, held, error, run_log: RunLog, deps, ids) -> str:
    org, run_id, piece = request.org_slug, request.pipeline_logging_id, request.slice
    run_log.flush_steps(org, run_id)
    if error.code in OUT_OF_TIME and piece.days > 1:
        pieces = slices.split(run_log.db, org, run_id, piece, slices.halves(piece))
        publish_slices(deps, request, pieces)
        log("WARNING", f"slice ran out of time; split into {len(pieces)}", error_code=error.code, **ids)
        return "split"
    if isinstance(error, TransientError) and held["attempts"] < MAX_RUN_ATTEMPTS:
        slices.hand_back_slice(run_log.db, org, run_id, piece.index)
        log(
            "WARNING",
            f"transient slice failure, redelivery requested: {error.message}",
            error_code=error.code,
            **ids,
        )
        raise error
    message = (
        error.message
        if not isinstance(error, TransientError)
        else f"Gave up after {MAX_RUN_ATTEMPTS} attempts: {error.message}"
    )
    failed = slices.fail_slice(run_log.db, org, run_id, piece.index, error.code, message)
    if failed and failed[0] is not None:
        record_history(run_log.db, run_log.history, [failed], [])
    log("ERROR", f"slice failed, run failed: {message}", error_code=error.code, **ids)
    return "failed"


def is_cancelled(run_log: RunLog, org_slug: str, run_id: str) -> bool:
    """Whether the run was cancelled (read from its document at each step boundary)."""
    return run_log.status(org_slug, run_id) == CANCELLED
