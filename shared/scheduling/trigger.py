"""Scheduled runs: the trigger enqueues one named task per due (org, pipeline, day); process-queue runs each."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

from shared.platform.errors import ApiError, TransientError
from shared.platform.identifiers import SCHEDULER_TRIGGER
from shared.platform.logs import log
from shared.platform.settings import Settings, central_table
from shared.runs.admission import ACCEPTED, DUPLICATE, refusal, reserve_run
from shared.runs.history import LATEST_VIEW
from shared.runs.model import PENDING
from shared.runs.publish import NEW_RUN, PublishFailed, reserve_and_publish
from shared.runs.run_log import RunLog
from shared.scheduling.cron import due_date
from shared.scheduling.tasks import ScheduledRun, enqueue
from shared.tenancy.subscriptions import load_plans, subscription_refusal
from shared.worker.pipelines import PipelineConfig, load_pipelines, scheduled_pipelines

ENQUEUE_THREADS = 8  # CreateTask calls in flight per trigger: thousands of orgs enqueue in seconds
ALREADY_RAN, ALREADY_QUEUED, NO_CREDENTIAL = "ALREADY_RAN", "ALREADY_QUEUED", "INTEGRATION_NOT_CONFIGURED"


@dataclass(frozen=True)
class OrgState:
    """What decides whether a scheduled run may start for one org: subscription, credential, a run already."""

    org_slug: str
    plan: str | None
    status: str | None
    has_credential: bool
    existing_id: str | None
    existing_status: str | None


def skip_reason(state: OrgState) -> str | None:
    """Why the org's scheduled run must not start (a stable code), or None when it is due."""
    return subscription_refusal(state.status) or (
        NO_CREDENTIAL if not state.has_credential else ALREADY_RAN if state.existing_status else None
    )


def org_states(
    warehouse, settings: Settings, config: PipelineConfig, day: date, org_slug: str | None = None
) -> list[OrgState]:
    """One query: every org with a subscription (or just `org_slug`), whether it holds an active credential for
    the pipeline's provider, and the scheduler's run for that day if one is in flight or done."""
    # Only the scheduler's own runs count as done: an org's manual run of the same day may have loaded it
    # before the day was over, so the scheduled run still has work to do.
    rows = warehouse.query(
        f"""
        SELECT s.org_slug, s.plan, s.status, c.org_slug IS NOT NULL OR NOT @needs_credential AS has_credential,
               r.existing_id, r.existing_status
        FROM `{central_table(settings, "org_subscriptions")}` AS s
        LEFT JOIN (SELECT DISTINCT org_slug FROM `{central_table(settings, "org_integration_credentials")}`
                   WHERE provider = @provider AND is_active) AS c ON c.org_slug = s.org_slug
        LEFT JOIN (SELECT org_slug, MAX(pipeline_logging_id) AS existing_id, MAX(status) AS existing_status
                   FROM `{central_table(settings, LATEST_VIEW)}`
                   WHERE pipeline_id = @pipeline_id AND start_date = @day AND end_date = @day
                     AND trigger_by = @trigger_by AND status IN ('PENDING', 'RUNNING', 'COMPLETED')
                   GROUP BY org_slug) AS r ON r.org_slug = s.org_slug
        WHERE @org = '' OR s.org_slug = @org
        ORDER BY s.org_slug
        """,
        {
            "provider": config.provider,
            # A provider that reads nothing of the customer's runs for every subscribed org.
            "needs_credential": config.needs_credential,
            "pipeline_id": config.pipeline_id,
            "day": day,
            "trigger_by": SCHEDULER_TRIGGER,
            "org": org_slug or "",
        },
    )
    return [OrgState(**row) for row in rows]


def _selected(settings: Settings, pipeline_id: str | None, day: date | None) -> list[PipelineConfig]:
    if pipeline_id is None:
        return list(scheduled_pipelines(settings.config_dir).values())
    config = load_pipelines(settings.config_dir).get(pipeline_id)
    if config is None:
        raise ApiError("PIPELINE_NOT_FOUND", f"No pipeline {pipeline_id}.")
    if config.schedule is None and day is None:
        raise ApiError("INVALID_REQUEST", f"pipeline_id: {pipeline_id} has no schedule; send a date.")
    return [config]


def trigger(
    warehouse,
    settings: Settings,
    tasks_client,
    headers: dict[str, str],
    *,
    pipeline_id: str | None = None,
    org_slug: str | None = None,
    day: date | None = None,
    scheduled_time: datetime | None = None,
    now: datetime | None = None,
) -> dict:
    """Enqueue one named task per due (org, pipeline, day); the answer counts what was queued and skipped why."""
    if not settings.tasks_queue or not settings.scheduler_target_url:
        raise ApiError("SCHEDULER_NOT_CONFIGURED", "Set CLOUD_TASKS_QUEUE and SCHEDULER_TARGET_URL.")
    now = now or datetime.now(UTC)
    results, totals = [], Counter()
    for config in _selected(settings, pipeline_id, day):
        schedule = config.schedule
        run_day = day or due_date(schedule.cron, schedule.time_zone, schedule.date, now, scheduled_time)
        states = org_states(warehouse, settings, config, run_day, org_slug)
        skipped = Counter(reason for state in states if (reason := skip_reason(state)))
        due = [ScheduledRun(s.org_slug, config.pipeline_id, run_day) for s in states if not skip_reason(s)]
        with ThreadPoolExecutor(ENQUEUE_THREADS, thread_name_prefix="enqueue") as pool:
            created = list(
                pool.map(
                    lambda run: enqueue(
                        tasks_client,
                        settings.tasks_queue,
                        run,
                        settings.scheduler_target_url,
                        headers,
                        settings.tasks_service_account,
                        settings.scheduler_audience or settings.scheduler_target_url,
                    ),
                    due,
                )
            )
        if created.count(False):
            skipped[ALREADY_QUEUED] += created.count(False)
        queued = created.count(True)
        results.append(
            {
                "pipeline_id": config.pipeline_id,
                "date": run_day.isoformat(),
                "queued": queued,
                "skipped": dict(sorted(skipped.items())),
            }
        )
        totals["queued"] += queued
        totals.update({f"skipped.{reason}": n for reason, n in skipped.items()})
        log("INFO", f"trigger {config.pipeline_id} {run_day}: {queued} queued", skipped=dict(skipped))
    skipped_total = {
        key.split(".", 1)[1]: n for key, n in sorted(totals.items()) if key.startswith("skipped.")
    }
    return {"queued": totals["queued"], "skipped": skipped_total, "pipelines": results}


def process_task(warehouse, settings: Settings, publisher, run: ScheduledRun) -> tuple[dict, int]:
    """Run one task: the checks and reservation of a run request, then publish. Returns (answer, status).

    A quota refusal or an outage raises (429/503), so Cloud Tasks retries the task with the queue's backoff;
    a terminal refusal is recorded as a FAILED run and answered 200, so the task is done.
    """
    ids = {"org_slug": run.org_slug, "pipeline_id": run.pipeline_id, "date": run.day.isoformat()}
    config = load_pipelines(settings.config_dir).get(run.pipeline_id)
    states = org_states(warehouse, settings, config, run.day, run.org_slug) if config else []
    if not states:  # the pipeline or the org is gone since the trigger: nothing to run, nothing to retry
        log("WARNING", "scheduled task for a pipeline or org that no longer exists", **ids)
        return {
            **ids,
            "status": "DROPPED",
            "reason": "PIPELINE_NOT_FOUND" if not config else "ORG_NOT_FOUND",
        }, 200
    state = states[0]
    if state.existing_status:  # a redelivered task, or the run started by an earlier attempt
        return {
            **ids,
            "status": state.existing_status,
            "pipeline_logging_id": state.existing_id,
            "duplicate": True,
        }, 200
    run_log = RunLog(warehouse, settings)
    request = run_log.new_request(
        run.org_slug, config.pipeline_id, config.provider, run.day, run.day, trigger_by=SCHEDULER_TRIGGER
    )
    limits = load_plans(settings.config_dir).get(state.plan or "")
    reason = skip_reason(state) or (None if limits else "SUBSCRIPTION_INACTIVE")
    if reason:
        run_log.record_refusal(request, reason, f"The scheduled run was refused: {reason}.")
        log(
            "WARNING",
            "scheduled run refused",
            error_code=reason,
            pipeline_logging_id=request.pipeline_logging_id,
            **ids,
        )
        return {
            **ids,
            "status": "FAILED",
            "error_code": reason,
            "pipeline_logging_id": request.pipeline_logging_id,
        }, 200
    try:
        reservation = reserve_and_publish(
            warehouse,
            settings,
            publisher,
            request,
            reserve=lambda: reserve_run(warehouse, settings, request, limits),
            if_unqueued=NEW_RUN,
        )
    except PublishFailed as failed:
        # Never queued: the run is FAILED, its slot and counts given back; the queue retries the task.
        raise TransientError("BACKEND_UNAVAILABLE", failed.message) from failed
    if reservation.decision == DUPLICATE:
        return {
            **ids,
            "status": reservation.existing_status or PENDING,
            "pipeline_logging_id": reservation.existing_id,
            "duplicate": True,
        }, 200
    if reservation.decision != ACCEPTED:
        log("INFO", f"scheduled run refused for now ({reservation.decision}); the queue retries", **ids)
        raise refusal(reservation.decision, limits, retry_after=reservation.retry_after)
    return {
        **ids,
        "status": PENDING,
        "pipeline_logging_id": request.pipeline_logging_id,
        "duplicate": False,
    }, 202
