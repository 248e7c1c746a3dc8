"""The provider functions' body: claim a run once, decrypt its credential, execute it, settle its status."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass, field

from shared.platform.errors import PipelineError, TerminalError, TransientError, classify_unexpected
from shared.platform.identifiers import is_org_slug, is_run_id
from shared.platform.logs import log, log_context, trace_fields
from shared.platform.settings import Settings
from shared.providers.contract import Credential, Provider
from shared.runs.model import COMPLETED, PENDING, RUNNING, RunRequest
from shared.runs.run_log import RunLog
from shared.worker import fanout
from shared.worker.crash_points import EXECUTED, crash_point
from shared.worker.executor import MAX_RUN_ATTEMPTS, Executor, RunCancelled
from shared.worker.pipelines import load_pipelines


@dataclass
class WorkerDeps:
    """What the worker talks to; the function entry point builds the real ones once per process."""

    settings: Settings
    warehouse: object
    kms_client: object
    executor_options: dict = field(default_factory=dict)  # e.g. sleep/http_transport for tests
    publisher: object = None  # publishes a fanned-out run's slices; None: created on first use

    def publisher_client(self):
        """The Pub/Sub publisher (lazily: only a run that fans out pays for it)."""
        if self.publisher is None:
            from shared.platform.clients import make_publisher_client

            self.publisher = make_publisher_client(self.settings)
        return self.publisher


def decode_message(event_data: dict) -> tuple[RunRequest, str | None]:
    """The run request and message id inside a Pub/Sub CloudEvent; TerminalError if malformed."""
    try:
        message = event_data["message"]
        payload = json.loads(base64.b64decode(message["data"]))
        request = RunRequest.from_message(payload)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise TerminalError("BAD_MESSAGE", f"Undecodable run message: {type(exc).__name__}") from exc
    if not (is_org_slug(request.org_slug) and is_run_id(request.pipeline_logging_id)):
        raise TerminalError("BAD_MESSAGE", "Run message with a malformed org slug or run id")
    return request, _message_id(event_data)


def _message_id(event_data: object) -> str | None:
    message = event_data.get("message") if isinstance(event_data, dict) else None
    return (message.get("messageId") or message.get("message_id")) if isinstance(message, dict) else None


@functools.cache
def default_deps() -> WorkerDeps:
    """The real dependencies of a provider function, built once per process (clients are imported lazily)."""
    from shared.platform import clients
    from shared.platform.settings import get_settings

    return WorkerDeps(get_settings(), clients.warehouse(), clients.kms_client())


def handle_cloud_event(cloud_event, provider: Provider) -> str:
    """A provider function's whole body: one Pub/Sub CloudEvent delivery of a run request for `provider`."""
    return handle_run_event(
        cloud_event.data,
        provider,
        default_deps(),
        event_id=cloud_event["id"],
        traceparent=cloud_event.get("traceparent"),  # the CloudEvent's distributed-tracing extension
    )


def handle_run_event(
    event_data: dict,
    provider: Provider,
    deps: WorkerDeps,
    *,
    event_id: str | None = None,
    traceparent: str | None = None,
) -> str:
    """Process one delivery; returns the outcome. Raises only to make Pub/Sub redeliver (transient).

    `event_id` (the CloudEvent id) and `traceparent` (its W3C trace extension) only label the log lines.
    """
    trace = trace_fields(deps.settings.project, traceparent)
    with log_context(execution_id=event_id or _message_id(event_data), **trace):
        try:
            request, message_id = decode_message(event_data)
        except TerminalError as error:
            log("ERROR", error.message, error_code=error.code)
            return "dropped"  # acknowledge: redelivering an undecodable message can never succeed
        with log_context(org_slug=request.org_slug, pipeline_logging_id=request.pipeline_logging_id):
            return _claim_and_execute(request, message_id, provider, deps)


def _claim_and_execute(
    request: RunRequest, message_id: str | None, provider: Provider, deps: WorkerDeps
) -> str:
    run_log = RunLog(deps.warehouse, deps.settings)
    ids = {"org_slug": request.org_slug, "pipeline_logging_id": request.pipeline_logging_id}
    if request.provider != provider.name:
        log("ERROR", f"run for provider {request.provider} delivered to {provider.name}", **ids)
        return "dropped"
    config = load_pipelines(deps.settings.config_dir).get(request.pipeline_id)
    if request.slice is not None:
        run_slice = functools.partial(_run_steps, request, provider, run_log, deps, config)
        outcome = fanout.execute_slice(request, config, run_log, deps, run_slice)
        return _alert_if_completed(outcome, request, provider, run_log, deps)
    if cuts := fanout.planned_cuts(provider, config, request):
        from shared.warehouse.datasets import ensure_org_dataset

        # The provider's tables first (an org's first run of it makes them): its slices then run side by side
        # on tables that exist, instead of racing to create them.
        ensure_org_dataset(deps.settings, deps.warehouse, request.org_slug, provider.name)
        return fanout.fan_out(request, message_id, cuts, run_log, deps)
    # Claim: only one delivery moves PENDING -> RUNNING; a duplicate finds the run claimed and acknowledges.
    if not run_log.transition(
        request.org_slug,
        request.pipeline_logging_id,
        PENDING,
        RUNNING,
        reason="claimed",
        message_id=message_id or "",
    ):
        status = run_log.status(request.org_slug, request.pipeline_logging_id)
        log("INFO", f"duplicate delivery ignored (run is {status})", message_id=message_id, **ids)
        return _alert_if_completed("duplicate", request, provider, run_log, deps, status)
    log("INFO", "run started", message_id=message_id, **ids)
    outcome = _execute_claimed(request, provider, run_log, deps)
    return _alert_if_completed(outcome, request, provider, run_log, deps)


def _alert_if_completed(
    outcome: str, request: RunRequest, provider: Provider, run_log: RunLog, deps, status: str | None = None
) -> str:
    """Evaluate the budget and anomaly alerts of a completed run's days. Also on a duplicate delivery of a
    completed run: a delivery that died between completing and alerting is redelivered, and the alert ledger
    finishes what it left (each alert is still written once). A transient failure raises (Pub/Sub redelivers,
    the redelivery is such a duplicate); any other is logged: the load itself stands."""
    from shared.alerts.evaluate import evaluate_after_load

    org, run_id = request.org_slug, request.pipeline_logging_id
    if outcome != "completed":
        if outcome not in ("duplicate", "dropped"):
            return outcome
        if (status or run_log.status(org, run_id)) != COMPLETED:
            return outcome
    first, last = fanout.load_window(provider, request)
    try:
        counts = evaluate_after_load(deps, org, run_id, first, last)
    except Exception as exc:  # alerting never undoes a completed load: only a transient failure redelivers
        error = exc if isinstance(exc, PipelineError) else classify_unexpected(exc)
        if isinstance(error, TransientError):
            raise error from exc
        log("ERROR", f"alert evaluation failed: {exc!r}"[:500], org_slug=org, pipeline_logging_id=run_id)
        return outcome
    if counts:
        log("INFO", f"alerts evaluated: {counts}", org_slug=org, pipeline_logging_id=run_id)
    if counts.get("held"):
        # Another delivery holds an alert unfinished: it may have died. Come back (Pub/Sub's backoff) until it is
        # done or its lease runs out and this duplicate finishes it.
        raise TransientError("ALERT_PENDING", "An alert of this load is still being recorded; retried.")
    return outcome


def _run_steps(
    request, provider: Provider, run_log: RunLog, deps: WorkerDeps, config, sliced, exact_window=False
):
    """Decrypt the credential and run the pipeline's steps over `sliced` (the run, or one slice of it) within one
    delivery's time; returns the rows written."""
    from shared.tenancy.credentials import load_credential
    from shared.warehouse.datasets import ensure_org_dataset

    org, run_id = request.org_slug, request.pipeline_logging_id
    credential = (
        load_credential(deps.warehouse, deps.settings, deps.kms_client, org, request.provider)
        if provider.needs_credential
        else Credential(request.provider, "")  # its records are the org's own, in the control store
    )
    ensure_org_dataset(deps.settings, deps.warehouse, org, request.provider)
    executor = Executor(
        deps.warehouse,
        deps.settings,
        run_log,
        processor_for=provider.processor,
        is_cancelled=lambda: fanout.is_cancelled(run_log, org, run_id),
        delivery_seconds=deps.settings.delivery_max_seconds,
        exact_window=exact_window,
        **deps.executor_options,
    )
    return executor.execute(sliced, config, credential)


def _execute_claimed(request: RunRequest, provider: Provider, run_log: RunLog, deps: WorkerDeps) -> str:
    run_id, org = request.pipeline_logging_id, request.org_slug
    try:
        config = load_pipelines(deps.settings.config_dir).get(request.pipeline_id)
        if config is None:
            raise TerminalError("PIPELINE_NOT_FOUND", f"Pipeline {request.pipeline_id} no longer exists.")
        rows = _run_steps(request, provider, run_log, deps, config, request)
        crash_point(EXECUTED)
    except RunCancelled:
        run_log.flush_steps(org, run_id)
        log("INFO", "run cancelled; stopped at a step boundary", org_slug=org, pipeline_logging_id=run_id)
        return "cancelled"
    except Exception as exc:  # noqa: BLE001 - every failure must settle the run, never leave it RUNNING
        error = exc if isinstance(exc, PipelineError) else classify_unexpected(exc)
        if not isinstance(exc, PipelineError):
            log("ERROR", f"unclassified failure: {exc!r}", org_slug=org, pipeline_logging_id=run_id)
        if error.code in fanout.OUT_OF_TIME and fanout.split_whole_run(provider, request, run_log, deps):
            run_log.flush_steps(org, run_id)
            log(
                "WARNING",
                "run ran out of a delivery's time; continued as slices",
                org_slug=org,
                pipeline_logging_id=run_id,
                error_code=error.code,
            )
            return "split"
        if isinstance(error, TransientError):
            return _settle_transient(request, run_log, error)
        run_log.fail(org, run_id, RUNNING, error.code, error.message)
        log(
            "ERROR",
            f"run failed: {error.message}",
            org_slug=org,
            pipeline_logging_id=run_id,
            error_code=error.code,
        )
        return "failed"
    run_log.transition(org, run_id, RUNNING, COMPLETED, reason="completed", rows_written=rows)
    log("INFO", "run completed", org_slug=org, pipeline_logging_id=run_id, rows=rows)
    return "completed"


def _settle_transient(request: RunRequest, run_log: RunLog, error: TransientError) -> str:
    run_id, org = request.pipeline_logging_id, request.org_slug
    if run_log.attempts(org, run_id) >= MAX_RUN_ATTEMPTS:
        run_log.fail(
            org, run_id, RUNNING, error.code, f"Gave up after {MAX_RUN_ATTEMPTS} attempts: {error.message}"
        )
        log(
            "ERROR",
            "run failed after retries",
            org_slug=org,
            pipeline_logging_id=run_id,
            error_code=error.code,
        )
        return "failed"
    # Hand the run back so the redelivery Pub/Sub makes (with its backoff) can claim it again.
    run_log.transition(org, run_id, RUNNING, PENDING, reason=f"retry: {error.code}")
    log(
        "WARNING",
        f"transient failure, redelivery requested: {error.message}",
        org_slug=org,
        pipeline_logging_id=run_id,
        error_code=error.code,
    )
    raise error
