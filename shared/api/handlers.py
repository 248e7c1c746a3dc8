"""Handlers of the `api` routes: authenticate, validate, act, answer."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from shared.api.app import ApiDeps, json_response
from shared.api.models import parse_list_query, parse_run_body
from shared.api.paging import decode_page_token, encode_page_token
from shared.platform.errors import ApiError
from shared.platform.identifiers import is_org_slug, is_path_segment, is_run_id
from shared.runs.admission import (
    ACCEPTED,
    DUPLICATE,
    RATE_LIMITED,
    count_refused_request,
    refusal,
    reserve_run,
)
from shared.runs.model import CANCELLED, PENDING, RUNNING
from shared.runs.publish import NEW_RUN, reserve_and_publish
from shared.runs.run_log import RunLog
from shared.tenancy import auth, operator_auth
from shared.tenancy.subscriptions import load_plans
from shared.worker.pipelines import load_pipelines

READY_TIMEOUT_SECONDS = 5  # a readiness probe must answer quickly, so no client-side retries


def health(request: Request, deps: ApiDeps) -> Response:
    """Liveness: the process answers."""
    return json_response(
        {"status": "ok", "service": "data-pipeline-service", "environment": deps.settings.environment}
    )


def ready(request: Request, deps: ApiDeps) -> Response:
    """Readiness: the warehouse and KMS answer; says which failed."""
    checks = {}
    try:
        deps.warehouse.ping(timeout=READY_TIMEOUT_SECONDS)
        checks["warehouse"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, don't raise
        checks["warehouse"] = f"failed: {type(exc).__name__}"
    try:
        deps.kms_client.encrypt(
            request={"name": deps.settings.kms_key_name, "plaintext": b"ready"},
            retry=None,
            timeout=READY_TIMEOUT_SECONDS,
        )
        checks["kms"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["kms"] = f"failed: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return json_response(
        {"status": "ready" if healthy else "unavailable", "checks": checks}, 200 if healthy else 503
    )


def openapi(request: Request, deps: ApiDeps) -> Response:
    """The OpenAPI document of this function."""
    from shared.api.openapi import load_openapi

    return json_response(load_openapi())


def _caller(request: Request, deps: ApiDeps) -> auth.OrgCaller:
    return auth.authenticate_org(deps.warehouse, deps.settings, request.headers.get("X-API-Key"))


def _body(request: Request) -> bytes:
    """The body `handle()` read, within the cap and deadlines (shared/api/body.py), before routing here."""
    return request.get_data()


def run(request: Request, deps: ApiDeps, org: str, provider: str, domain: str, pipeline: str) -> Response:
    """Start a pipeline run: checks, one atomic reservation that creates the run PENDING, publish; 202."""
    if not is_org_slug(org) or not all(is_path_segment(p) for p in (provider, domain, pipeline)):
        raise ApiError("INVALID_PATH", "The org slug or a pipeline path segment is malformed.")
    raw = _body(request)
    caller = _caller(request, deps)
    limits = load_plans(deps.settings.config_dir).get(caller.plan or "")
    try:
        auth.authorize_org(caller, org)
        config = load_pipelines(deps.settings.config_dir).get(f"{provider}/{domain}/{pipeline}")
        if config is None:
            raise ApiError("PIPELINE_NOT_FOUND", f"No pipeline {provider}/{domain}/{pipeline}.")
        body = parse_run_body(raw, config.max_range_days)
        if config.needs_credential and provider not in caller.providers:
            # The key index may not know a credential stored around the admin CLI: ask BigQuery once first.
            caller = auth.refresh_caller(
                deps.warehouse, deps.settings, request.headers.get("X-API-Key"), current=caller
            )
        if config.needs_credential and provider not in caller.providers:
            raise ApiError("INTEGRATION_NOT_CONFIGURED", f"The org has no active {provider} credential.")
        if limits is None:
            raise ApiError(
                "SUBSCRIPTION_INACTIVE", f"The subscription's plan {caller.plan!r} is not offered."
            )
    except ApiError as refused:
        # Every authenticated run request counts against the key's org's rate, refused ones too: a client
        # looping on a bad request is slowed down like any other (429 once it is over the rate).
        raise _counted(deps, caller, limits, refused) from None
    start, end = body.date_range()
    run_log = RunLog(deps.warehouse, deps.settings)
    run_request = run_log.new_request(
        org,
        config.pipeline_id,
        provider,
        start,
        end,
        force_refresh=body.force_refresh,
        trigger_by=body.trigger_by,
    )
    # Never queued (Pub/Sub refused): the run is FAILED, its slot and counts given back, and the 503 raised.
    reservation = reserve_and_publish(
        deps.warehouse,
        deps.settings,
        deps.publisher,
        run_request,
        reserve=lambda: reserve_run(deps.warehouse, deps.settings, run_request, limits),
        if_unqueued=NEW_RUN,
    )
    answer = {
        "org_slug": org,
        "pipeline_id": config.pipeline_id,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
    }
    if reservation.decision == DUPLICATE:
        return json_response(
            {
                "pipeline_logging_id": reservation.existing_id,
                "status": reservation.existing_status or PENDING,
                **answer,
                "duplicate": True,
            },
            200,
        )
    if reservation.decision != ACCEPTED:
        raise refusal(reservation.decision, limits, retry_after=reservation.retry_after)
    return json_response(
        {
            "pipeline_logging_id": run_request.pipeline_logging_id,
            "status": PENDING,
            **answer,
            "duplicate": False,
        },
        202,
    )


def _counted(deps: ApiDeps, caller: auth.OrgCaller, limits, refused: ApiError) -> ApiError:
    """The answer to a refused run request once it is counted: 429 if it is over the org's rate, else `refused`."""
    if limits is None:
        return refused
    counted = count_refused_request(deps.warehouse, deps.settings, caller.org_slug, limits)
    if counted.decision == RATE_LIMITED:
        return refusal(RATE_LIMITED, limits, retry_after=counted.retry_after)
    return refused


def get_run(request: Request, deps: ApiDeps, run_id: str) -> Response:
    """One run of the caller's org with its step attempts; another org's run is a 404."""
    caller = _caller(request, deps)
    if not is_run_id(run_id):
        raise ApiError("RUN_NOT_FOUND", "No such run.")
    run_log = RunLog(deps.warehouse, deps.settings)
    row = run_log.get(caller.org_slug, run_id)
    if row is None:
        raise ApiError("RUN_NOT_FOUND", "No such run.")
    return json_response({**row, "steps": run_log.step_logs(caller.org_slug, run_id)})


def list_runs(request: Request, deps: ApiDeps) -> Response:
    """The caller's org's runs, newest first, filtered, one page at a time."""
    caller = _caller(request, deps)
    query = parse_list_query(request.args)
    after = decode_page_token(query.page_token) if query.page_token else None
    rows = RunLog(deps.warehouse, deps.settings).list_for_org(
        caller.org_slug,
        query.limit + 1,
        status=query.status,
        pipeline_id=query.pipeline,
        start=query.start_date,
        end=query.end_date,
        after=after,
    )
    page, more = rows[: query.limit], len(rows) > query.limit
    token = encode_page_token(page[-1]["created_at"], page[-1]["pipeline_logging_id"]) if more else None
    return json_response({"runs": page, "next_page_token": token})


def cancel_run(request: Request, deps: ApiDeps, run_id: str) -> Response:
    """Cancel a PENDING or RUNNING run of the caller's org; its slot is released now, the worker stops at the
    next step boundary."""
    caller = _caller(request, deps)
    if not is_run_id(run_id):
        raise ApiError("RUN_NOT_FOUND", "No such run.")
    run_log = RunLog(deps.warehouse, deps.settings)
    for status in (PENDING, RUNNING):
        if run_log.transition(caller.org_slug, run_id, status, CANCELLED, reason="cancelled by org"):
            return json_response({"pipeline_logging_id": run_id, "status": CANCELLED})
    row = run_log.get(caller.org_slug, run_id)
    if row is None:
        raise ApiError("RUN_NOT_FOUND", "No such run.")
    raise ApiError(
        "RUN_NOT_CANCELLABLE", f"The run is {row['status']}; only PENDING or RUNNING runs can be cancelled."
    )


def reap(request: Request, deps: ApiDeps) -> Response:
    """Admin: settle runs stuck past their timeout and recount concurrency slots (safe to run any time)."""
    from shared.runs.reaper import reap_stuck_runs

    # The root key, or Cloud Scheduler's identity: the reaper runs every 10 minutes (terraform/modules/scheduler).
    operator_auth.verify_scheduler_caller(deps.settings, request.headers)
    return json_response(reap_stuck_runs(deps.warehouse, deps.settings))


def list_dead_letters(request: Request, deps: ApiDeps) -> Response:
    """Admin: drain the dead-letter subscriptions into the table, then list dead letters (filters provider, org)."""
    from shared.api.models import parse_dead_letter_query
    from shared.dead_letters import store

    # The root key, or Cloud Scheduler's identity: the drain runs every 15 minutes (terraform/modules/scheduler).
    operator_auth.verify_scheduler_caller(deps.settings, request.headers)
    query = parse_dead_letter_query(request.args)
    from shared.runs.control import control_db

    drained = store.drain(deps.settings, deps.subscriber())
    letters = store.list_letters(
        control_db(deps.settings), provider=query.provider, org=query.org_slug, limit=query.limit
    )
    return json_response({"drained": drained, "dead_letters": letters})


def replay_dead_letters(request: Request, deps: ApiDeps) -> Response:
    """Admin: re-open the runs of dead letters (quota slot included) and publish them again; one outcome each."""
    from shared.api.models import ReplayBody, parse_model
    from shared.dead_letters import store
    from shared.dead_letters.replay import replay

    operator_auth.verify_root_key(deps.settings, request.headers.get("X-CA-Root-Key"))
    body = parse_model(ReplayBody, _body(request))
    store.drain(deps.settings, deps.subscriber())  # so "all" includes what just landed
    answer = replay(
        deps.warehouse,
        deps.settings,
        deps.publisher,
        message_ids=body.message_ids,
        provider=body.provider,
        org=body.org_slug,
    )
    return json_response(answer)


def scheduler_trigger(request: Request, deps: ApiDeps) -> Response:
    """Root key or Cloud Scheduler (OIDC): enqueue one named task per due (org, pipeline, day); counts."""
    from shared.api.models import TriggerBody, parse_model
    from shared.scheduling.trigger import trigger

    operator_auth.verify_scheduler_caller(deps.settings, request.headers)
    body = parse_model(TriggerBody, _body(request), empty_ok=True)
    scheduled_time = body.scheduled_time or _schedule_time_header(request)
    # Deployed, each task carries an OIDC token of TASKS_SERVICE_ACCOUNT (added by Cloud Tasks: no secret in the
    # task); without one (the local stack) tasks authenticate to process-queue with the root key.
    headers = {} if deps.settings.tasks_service_account else {"X-CA-Root-Key": deps.settings.root_key}
    answer = trigger(
        deps.warehouse,
        deps.settings,
        deps.tasks(),
        headers,
        pipeline_id=body.pipeline_id,
        org_slug=body.org_slug,
        day=body.date,
        scheduled_time=scheduled_time,
    )
    return json_response(answer)


def _schedule_time_header(request: Request):
    """Cloud Scheduler's X-CloudScheduler-ScheduleTime (when the job was due), so a late or retried call runs
    the day of the firing it belongs to; None if absent, malformed or not a recent past instant."""
    from datetime import datetime

    from shared.api.models import firing_time_problem

    value = request.headers.get("X-CloudScheduler-ScheduleTime", "")
    try:
        parsed = datetime.fromisoformat(value) if value else None  # 3.11+ reads a trailing "Z"
    except ValueError:
        return None
    return parsed if parsed and parsed.tzinfo and not firing_time_problem(parsed) else None


def scheduler_process_queue(request: Request, deps: ApiDeps) -> Response:
    """Root key or the tasks' OIDC identity: run one scheduled task; 429/503 make the queue retry it."""
    from shared.api.models import TaskBody, parse_model
    from shared.scheduling.tasks import ScheduledRun
    from shared.scheduling.trigger import process_task

    operator_auth.verify_tasks_caller(deps.settings, request.headers)
    body = parse_model(TaskBody, _body(request))
    answer, status = process_task(
        deps.warehouse,
        deps.settings,
        deps.publisher,
        ScheduledRun(body.org_slug, body.pipeline_id, body.date),
    )
    return json_response(answer, status)
