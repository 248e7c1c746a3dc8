"""Runs from the outside and the inside: the run API's calls, waiting for a run (or anything) to settle, runs
created or reserved straight in the warehouse, and run messages delivered to an in-process worker."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx

from shared.platform.errors import TransientError
from shared.platform.settings import Settings
from shared.providers.openai import PROVIDER as OPENAI
from shared.runs.model import RunRequest
from shared.runs.run_log import RunLog
from shared.worker.entry import WorkerDeps, handle_run_event

PIPELINE = "openai/cost/usage_cost"
RUN_PATH = "/api/v1/pipelines/run/{org}/{pipeline}"
FINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELLED")
REQUEST_TIMEOUT = (
    0.5  # seconds: an in-process worker's provider request timeout (a 1 s hang is a read timeout)
)


def wait_until[T](
    condition: Callable[[], T], seconds: float = 60.0, interval: float = 0.05, what: str = ""
) -> T:
    """Call `condition` until it returns something truthy (returned) or `seconds` pass (AssertionError). The
    bound is a timeout for a stuck system, not a claim about speed: keep it generous."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what or condition}"
        time.sleep(interval)
    return result


# --- the run API, over HTTP -------------------------------------------------------------------------------------


def root_headers(stack) -> dict[str, str]:
    """The root key header of the stack's admin routes."""
    return {"X-CA-Root-Key": stack.secrets["root_key"]}


def post_run(
    stack, org_slug: str, body, *, key: str | None, pipeline: str = PIPELINE, timeout: float = 30
) -> httpx.Response:
    """POST a run request (with `key` as X-API-Key, none if None); the response, whatever it is."""
    headers = {"X-API-Key": key} if key is not None else {}
    url = stack.api_url + RUN_PATH.format(org=org_slug, pipeline=pipeline)
    return httpx.post(url, json=body, headers=headers, timeout=timeout)


def start_run(stack, org: dict, body: dict, pipeline: str = PIPELINE) -> str:
    """Start a run of the org (a dict with org_slug and api_key); asserts 202 PENDING, returns its id."""
    response = post_run(stack, org["org_slug"], body, key=org["api_key"], pipeline=pipeline)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "PENDING", response.text
    return response.json()["pipeline_logging_id"]


def get_run(stack, org: dict, run_id: str) -> httpx.Response:
    """GET one run with the org's key."""
    return httpx.get(
        f"{stack.api_url}/api/v1/pipelines/runs/{run_id}", headers={"X-API-Key": org["api_key"]}, timeout=30
    )


def cancel_run(stack, org: dict, run_id: str) -> httpx.Response:
    """DELETE (cancel) one run with the org's key."""
    return httpx.delete(
        f"{stack.api_url}/api/v1/pipelines/runs/{run_id}", headers={"X-API-Key": org["api_key"]}, timeout=30
    )


def wait_for_run(stack, org: dict, run_id: str, timeout: float = 90) -> dict:
    """Poll the run through the API until it is COMPLETED, FAILED or CANCELLED; returns it."""
    seen: list[dict] = []

    def settled():
        run = get_run(stack, org, run_id).json()
        seen[:] = [run]
        return run if run.get("status") in FINAL_STATUSES else None

    try:
        return wait_until(settled, timeout, interval=0.3)
    except AssertionError:
        raise AssertionError(f"run {run_id} still {seen[-1].get('status')} after {timeout} s") from None


def function_log(stack, function: str, run_id: str) -> list[dict]:
    """The structured lines the stack's function process `function` (api, openai, ...) logged about a run."""
    lines = []
    for line in (stack.data_dir / "logs" / f"{function}.log").read_text(errors="replace").splitlines():
        if line.startswith("{") and run_id in line:
            try:
                lines.append(json.loads(line))
            except ValueError:  # the last line, half written while we read
                continue
    return lines


# --- runs in the warehouse --------------------------------------------------------------------------------------


def new_run(
    settings: Settings, warehouse, org_slug: str, pipeline: str, start: date, end: date | None = None
) -> RunRequest:
    """A PENDING run of `pipeline` (provider/domain/name) created directly (no quota slot: the admin path)."""
    run_log = RunLog(warehouse, settings)
    request = run_log.new_request(org_slug, pipeline, pipeline.split("/")[0], start, end or start)
    run_log.create(request)
    return request


def reserve(
    settings: Settings,
    warehouse,
    org_slug: str,
    day: date,
    pipeline: str = PIPELINE,
    plan: str = "professional",
) -> RunRequest:
    """A run accepted exactly as the API accepts one (PENDING, holding a concurrency slot under `plan`), not
    published."""
    from shared.runs.admission import reserve_run
    from shared.tenancy.subscriptions import load_plans

    request = RunLog(warehouse, settings).new_request(org_slug, pipeline, pipeline.split("/")[0], day, day)
    limits = load_plans(settings.config_dir)[plan]
    assert reserve_run(warehouse, settings, request, limits).decision == "ACCEPTED"
    return request


def quota_row(warehouse, settings: Settings, org_slug: str) -> dict:
    """The org's quota document in Firestore (running, day, daily_runs, month, monthly_runs), dates as dates;
    zeros for an org that never took a slot."""
    from shared.runs import control

    snapshot = control.org_ref(control.control_db(settings), org_slug).get()
    values = snapshot.to_dict() if snapshot.exists else {}
    out = {"running": 0, "daily_runs": 0, "monthly_runs": 0, "day": None, "month": None, **values}
    for key in ("day", "month"):
        out[key] = date.fromisoformat(out[key]) if out[key] else None
    return out


def run_document(settings: Settings, org_slug: str, run_id: str) -> dict | None:
    """The run's live document in Firestore (every field, internal ones included), or None."""
    from shared.runs import control

    snapshot = control.run_ref(control.control_db(settings), org_slug, run_id).get()
    return control.from_document(snapshot.to_dict()) if snapshot.exists else None


def status_changes(warehouse, settings: Settings, run_id: str) -> list[dict]:
    """The run's status changes as the history recorded them (from_status, to_status, reason, at), in order."""
    table = f"{settings.project}.{settings.central_dataset}.org_meta_state_transitions"
    return warehouse.query(
        f"SELECT DISTINCT from_status, to_status, reason, at FROM `{table}` WHERE pipeline_logging_id = @id "
        "ORDER BY at",
        {"id": run_id},
    )


def latest_runs(warehouse, settings: Settings, org_slug: str) -> list[dict]:
    """The org's runs as the history's latest-version view shows them, oldest first."""
    view = f"{settings.project}.{settings.central_dataset}.org_meta_pipeline_runs_latest"
    return warehouse.query(
        f"SELECT * FROM `{view}` WHERE org_slug = @org ORDER BY created_at, pipeline_logging_id",
        {"org": org_slug},
    )


def set_quota(settings: Settings, org_slug: str, **values) -> None:
    """Overwrite fields of the org's quota document (e.g. running=7, a counter that drifted)."""
    from shared.runs import control

    control.org_ref(control.control_db(settings), org_slug).set(values, merge=True)


def age_run(settings: Settings, org_slug: str, run_id: str, status: str, age: timedelta) -> None:
    """Make the run's document look left behind by a dead worker: `status`, last touched `age` ago."""
    from shared.runs import control

    then = datetime.now(UTC) - age
    control.run_ref(control.control_db(settings), org_slug, run_id).update(
        {"status": status, "started_at": then, "updated_at": then}
    )


def running_slots(settings: Settings, warehouse, org_slug: str) -> int:
    """The org's concurrency slots held, as its quota document counts them."""
    return quota_row(warehouse, settings, org_slug)["running"]


# --- an in-process worker ---------------------------------------------------------------------------------------


@dataclass
class Recorder:
    """The executor's sleep: records every wait (request and step retries) instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def worker_deps(settings: Settings, warehouse, kms, sleep: Recorder | None = None) -> WorkerDeps:
    """WorkerDeps of an in-process worker that records its waits and gives up a request after 0.5 s."""
    options = {"sleep": sleep or Recorder(), "request_timeout": REQUEST_TIMEOUT}
    return WorkerDeps(settings, warehouse, kms, executor_options=options)


def event_for(request: RunRequest, message_id: str = "m-1") -> dict:
    """The data of the CloudEvent Pub/Sub push makes of a published run request."""
    data = base64.b64encode(json.dumps(request.to_message()).encode()).decode()
    return {"message": {"data": data, "messageId": message_id}, "subscription": "projects/p/subscriptions/s"}


def deliver(event: dict, deps: WorkerDeps, times: int, provider=OPENAI, **labels) -> list[str]:
    """Deliver `event` until it is acknowledged, at most `times` times, as Pub/Sub would; the outcomes."""
    outcomes = []
    for _ in range(times):
        try:
            outcomes.append(handle_run_event(event, provider, deps, **labels))
            break
        except TransientError as error:  # the function answers 5xx: Pub/Sub redelivers
            outcomes.append(f"redeliver {error.code}")
    return outcomes
