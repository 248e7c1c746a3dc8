"""Helpers for the fault, delivery and crash tests: short pipelines, an org behind the fault provider, runs."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from shared.platform.errors import TransientError
from shared.platform.settings import DEFAULT_CONFIG_DIR, Settings
from shared.providers.openai import PROVIDER as OPENAI
from shared.runs.model import RunRequest
from shared.runs.run_log import RunLog
from shared.worker.entry import WorkerDeps, handle_run_event

COSTS_PATH = "/v1/organization/costs"
USAGE_PATH = "/v1/organization/usage/completions"
DAY = date(2025, 11, 3)
# The production steps, cut down so each fault costs one or two steps of warehouse work, not six.
_RETRY = "{max_attempts: 3, initial_backoff_seconds: 1, max_backoff_seconds: 30}"
SHORT_PIPELINES = {
    "costs_only": ["costs: openai.costs -> openai_costs_daily"],
    "usage_costs": [
        "usage: openai.usage_completions -> openai_usage_daily",
        "costs: openai.costs -> openai_costs_daily",
    ],
}
REQUEST_TIMEOUT = 0.5  # seconds: a hang of 1 s is a read timeout; a loaded machine still answers in time


def _pipeline_yaml(name: str, steps: list[str]) -> str:
    lines = [f"pipeline_id: openai/cost/{name}", "provider: openai", "domain: cost", f"pipeline: {name}"]
    lines += ["timeout_seconds: 900", "steps:"]
    previous: list[str] = []
    for spec in steps:
        step_id, rest = spec.split(": ", 1)
        ps_type, table = rest.split(" -> ")
        lines += [
            f"  - {{step_id: {step_id}, ps_type: {ps_type}, destination_table: {table},",
            f"     depends_on: [{', '.join(previous)}], timeout_seconds: 300, retry: {_RETRY}}}",
        ]
        previous = [step_id]
    return "\n".join(lines) + "\n"


def short_config_dir(root: Path) -> Path:
    """A copy of configs/ plus the short pipelines openai/cost/costs_only and openai/cost/usage_costs."""
    target = root / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    for name, steps in SHORT_PIPELINES.items():
        (target / "pipelines" / "openai" / "cost" / f"{name}.yml").write_text(_pipeline_yaml(name, steps))
    return target


@dataclass
class Recorder:
    """The executor's sleep: records every wait (request and step retries) instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def fault_org(settings: Settings, provider_url: str, plan: str = "professional") -> dict:
    """A fresh org whose OpenAI credential (a unique, key-shaped secret) points at the fault provider."""
    from shared.tenancy import onboarding

    slug = f"f_{uuid.uuid4().hex[:10]}"
    created = onboarding.create_org(settings, slug, plan, "ACTIVE")
    secret = f"sk-admin-fault-{secrets.token_hex(16)}"
    onboarding.set_credential(settings, slug, "openai", secret, {"base_url": provider_url})
    return {**created, "secret": secret}


def worker_deps(settings: Settings, warehouse, kms, sleep: Recorder | None = None) -> WorkerDeps:
    """WorkerDeps of an in-process worker that records its waits and gives up a request after 0.5 s."""
    options = {"sleep": sleep or Recorder(), "request_timeout": REQUEST_TIMEOUT}
    return WorkerDeps(settings, warehouse, kms, executor_options=options)


def new_run(settings: Settings, warehouse, org_slug: str, pipeline: str, day: date = DAY) -> RunRequest:
    """A PENDING run of openai/cost/<pipeline> for one day (no quota slot: the admin path)."""
    run_log = RunLog(warehouse, settings)
    request = run_log.new_request(org_slug, f"openai/cost/{pipeline}", "openai", day, day)
    run_log.create(request)
    return request


def reserve(settings: Settings, warehouse, org_slug: str, day: date) -> RunRequest:
    """A run of openai/cost/usage_costs accepted as the API accepts one: with a concurrency slot."""
    from shared.runs.admission import reserve_run
    from shared.tenancy.subscriptions import load_plans

    request = RunLog(warehouse, settings).new_request(org_slug, "openai/cost/usage_costs", "openai", day, day)
    limits = load_plans(settings.config_dir)["professional"]
    assert reserve_run(warehouse, settings, request, limits).decision == "ACCEPTED"
    return request


def running_slots(settings: Settings, warehouse, org_slug: str) -> int:
    """The org's concurrency slots held, as its quota row counts them."""
    table = f"{settings.project}.{settings.central_dataset}.org_usage_quotas"
    rows = warehouse.query(f"SELECT running FROM `{table}` WHERE org_slug = @org", {"org": org_slug})
    return rows[0]["running"]


def event_for(request: RunRequest, message_id: str = "m-1") -> dict:
    """The data of the CloudEvent Pub/Sub push makes of a published run request."""
    data = base64.b64encode(json.dumps(request.to_message()).encode()).decode()
    return {"message": {"data": data, "messageId": message_id}, "subscription": "projects/p/subscriptions/s"}


def deliver(event: dict, deps: WorkerDeps, times: int, **labels) -> list[str]:
    """Deliver `event` until it is acknowledged, at most `times` times, as Pub/Sub would; the outcomes."""
    outcomes = []
    for _ in range(times):
        try:
            outcomes.append(handle_run_event(event, OPENAI, deps, **labels))
            break
        except TransientError as error:  # the function answers 5xx: Pub/Sub redelivers
            outcomes.append(f"redeliver {error.code}")
    return outcomes


def _sandbox_results(stack, path: str, day: date, group_by: list[str]) -> list[dict]:
    """One day's results of an endpoint, read straight from the sandbox (independent of the pipeline)."""
    from datetime import UTC, datetime, time

    import httpx

    start = int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())
    params = {"start_time": start, "end_time": start + 86_400, "bucket_width": "1d", "limit": 31}
    body = httpx.get(
        f"{stack.sandbox_url}{path}",
        params={**params, "group_by": group_by},
        headers={"Authorization": "Bearer sk-admin-test"},
        timeout=10,
    ).text
    page = json.loads(body, parse_float=Decimal)
    assert not page["has_more"]
    return [r for bucket in page["data"] for r in bucket["results"]]


def sandbox_costs(stack, day: date) -> tuple[int, Decimal]:
    """Rows and total the provider bills for a day."""
    results = _sandbox_results(stack, COSTS_PATH, day, ["project_id", "line_item"])
    return len(results), sum((r["amount"]["value"] for r in results), Decimal(0))


def sandbox_usage(stack, day: date) -> tuple[int, int]:
    """Project-model pairs and input tokens the provider reports for a day."""
    results = _sandbox_results(stack, USAGE_PATH, day, ["project_id", "model"])
    return len({(r["project_id"], r["model"]) for r in results}), sum(r["input_tokens"] for r in results)


def table_costs(settings: Settings, warehouse, org_slug: str, day: date) -> tuple[int, Decimal]:
    """Rows and total of the org's openai_costs_daily for a day."""
    table = f"{settings.project}.{settings.org_dataset(org_slug)}.openai_costs_daily"
    row = warehouse.query(
        f"SELECT COUNT(*) AS n, SUM(amount) AS s FROM `{table}` WHERE cost_date = @day", {"day": day}
    )[0]
    return row["n"], row["s"] or Decimal(0)


def table_usage(settings: Settings, warehouse, org_slug: str, day: date) -> tuple[int, int]:
    """Rows and input tokens of the org's openai_usage_daily for a day."""
    table = f"{settings.project}.{settings.org_dataset(org_slug)}.openai_usage_daily"
    row = warehouse.query(
        f"SELECT COUNT(*) AS n, SUM(input_tokens) AS t FROM `{table}` WHERE usage_date = @day", {"day": day}
    )[0]
    return row["n"], row["t"] or 0


def with_config_dir(settings: Settings, config_dir: Path) -> Settings:
    """The stack's settings reading pipelines from `config_dir`."""
    return replace(settings, config_dir=config_dir)
