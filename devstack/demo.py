"""`dps demo`: start the local stack, run the OpenAI, Anthropic and GCP pipelines for a week over HTTP, print
costs and the reconciliation, then run a scheduled day through the scheduler and Cloud Tasks, stop."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from devstack.demo_org import onboard_demo_org

RUN_WAIT_SECONDS = 180
PIPELINES = ("openai/cost/usage_cost", "anthropic/cost/usage_cost", "gcp/cost/billing")
PROVIDERS_SHOWN = {"Google Cloud", "OpenAI", "Anthropic"}


def start_run_over_http(
    api_url: str, org: str, api_key: str, start: str, end: str, pipeline: str = "openai/cost/usage_cost"
) -> str:
    """POST a run exactly like the README's curl; returns its pipeline_logging_id."""
    url = f"{api_url}/api/v1/pipelines/run/{org}/{pipeline}"
    headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    response = httpx.post(url, headers=headers, json={"start_date": start, "end_date": end}, timeout=60)
    print(f"POST {url} -> {response.status_code} {response.text}")
    response.raise_for_status()
    return response.json()["pipeline_logging_id"]


def wait_for_run(api_url: str, api_key: str, run_id: str) -> dict:
    """Poll a run until it is terminal; returns the final run."""
    headers = {"X-API-Key": api_key}
    deadline = time.monotonic() + RUN_WAIT_SECONDS
    while time.monotonic() < deadline:
        run = httpx.get(f"{api_url}/api/v1/pipelines/runs/{run_id}", headers=headers, timeout=30).json()
        if run.get("status") in ("COMPLETED", "FAILED", "CANCELLED"):
            return run
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not finish within {RUN_WAIT_SECONDS} s")


def run_pipeline_over_http(
    api_url: str, org: str, api_key: str, start: str, end: str, pipeline: str = "openai/cost/usage_cost"
) -> dict:
    """POST a run exactly like the README's curl, then poll until it is terminal; returns the final run."""
    return wait_for_run(api_url, api_key, start_run_over_http(api_url, org, api_key, start, end, pipeline))


def cost_table(settings, org: str, start: str, end: str) -> list[dict]:
    """Per day and model: tokens from the usage table and billed cost from the costs table."""
    from shared.platform.clients import make_bigquery_client
    from shared.warehouse.adapter import Warehouse

    dataset = f"{settings.project}.{settings.org_dataset(org)}"
    sql = f"""
    WITH usage AS (
      SELECT usage_date AS day, model, SUM(input_tokens) AS input_tokens,
             SUM(input_cached_tokens) AS cached_tokens, SUM(output_tokens) AS output_tokens
      FROM `{dataset}.openai_usage_daily` WHERE usage_date BETWEEN @start AND @end GROUP BY 1, 2),
    costs AS (
      SELECT cost_date AS day, SPLIT(line_item, ', ')[SAFE_OFFSET(0)] AS model, SUM(amount) AS cost
      FROM `{dataset}.openai_costs_daily` WHERE cost_date BETWEEN @start AND @end GROUP BY 1, 2)
    SELECT COALESCE(u.day, c.day) AS day, COALESCE(u.model, c.model) AS model, u.input_tokens, u.cached_tokens,
           u.output_tokens, c.cost
    FROM usage u FULL OUTER JOIN costs c ON u.day = c.day AND u.model = c.model
    ORDER BY day, model
    """
    warehouse = Warehouse(make_bigquery_client(settings), settings.project)
    params = {"start": datetime.fromisoformat(start).date(), "end": datetime.fromisoformat(end).date()}
    return warehouse.query(sql, params)


def print_cost_table(rows: list[dict]) -> None:
    """Print the per-day, per-model table with a total."""
    header = f"{'day':<11} {'model':<28} {'input tok':>11} {'cached':>10} {'output tok':>11} {'cost USD':>14}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(
            f"{r['day']!s:<11} {r['model'] or '(none)':<28} {r['input_tokens'] or 0:>11,} "
            f"{r['cached_tokens'] or 0:>10,} {r['output_tokens'] or 0:>11,} {r['cost'] or 0:>14.6f}"
        )
    total = sum((r["cost"] or 0) for r in rows)
    print("-" * len(header) + f"\n{'total':<76}{total:>14.6f}")


def _report_run(run: dict) -> bool:
    print(
        f"run {run['pipeline_logging_id']} ({run.get('pipeline_id')}): {run['status']}, "
        f"rows written {run.get('rows_written')}"
    )
    for step in run.get("steps", []):
        print(
            f"  step {step['step_id']} attempt {step['attempt']}: {step['status']} rows={step['rows_written']}"
        )
    if run["status"] == "COMPLETED" and run.get("rows_written") == 0:
        print("  nothing to load: no export partition changed since the last run (incremental)")
    if run["status"] != "COMPLETED":
        print(f"demo FAILED: {run.get('error_code')}: {run.get('error_message')}")
    return run["status"] == "COMPLETED"


def run_scheduled_day(api_url: str, root_key: str, org: str, api_key: str, day: str) -> bool:
    """Trigger every schedule for `day` as Cloud Scheduler would, then wait for the org's scheduled runs."""
    response = httpx.post(
        f"{api_url}/api/v1/scheduler/trigger",
        json={"date": day},
        headers={"X-CA-Root-Key": root_key},
        timeout=120,
    )
    print(f"POST /api/v1/scheduler/trigger {{'date': '{day}'}} -> {response.status_code}")
    response.raise_for_status()
    for pipeline in response.json()["pipelines"]:
        print(
            f"  {pipeline['pipeline_id']}: {pipeline['queued']} queued, skipped {pipeline['skipped'] or 'none'}"
        )
    deadline, runs = time.monotonic() + RUN_WAIT_SECONDS, []
    while time.monotonic() < deadline:  # the queue dispatches each task; a busy org's task is retried
        listed = httpx.get(
            f"{api_url}/api/v1/pipelines/runs",
            params={"start_date": day, "end_date": day},
            headers={"X-API-Key": api_key},
            timeout=30,
        ).json()["runs"]
        runs = [
            r for r in listed if r["trigger_by"] == "scheduler" and r["start_date"] == r["end_date"] == day
        ]
        if len(runs) == len(response.json()["pipelines"]) and all(
            r["status"] in ("COMPLETED", "FAILED") for r in runs
        ):
            break
        time.sleep(0.5)
    for run in runs:
        print(f"  scheduled run {run['pipeline_id']} for {day}: {run['status']}, rows {run['rows_written']}")
    return bool(runs) and all(run["status"] == "COMPLETED" for run in runs)


def run_demo(local_dir: Path, days: int = 7) -> int:
    """The whole demo; exit code 0 only if every run COMPLETED and cost_focus shows all three providers."""
    from devstack.demo_report import (
        focus_table,
        print_focus_table,
        print_reconciliation,
        reconciliation_table,
    )
    from devstack.stack import LocalStack
    from devstack.up import publish_stack_file

    stack = LocalStack(data_dir=local_dir)
    try:
        stack.start()
        onboard_demo_org(stack)
        info = publish_stack_file(stack, local_dir / "stack.json")
        end = datetime.now(UTC).date() - timedelta(days=1)
        start = end - timedelta(days=days - 1)
        org, api_key, api = info["demo_org"]["slug"], info["demo_org"]["api_key"], info["api_url"]
        # The demo org's plan runs two at a time: queue two, and the third once the first has finished.
        dates = (start.isoformat(), end.isoformat())
        run_ids = [start_run_over_http(api, org, api_key, *dates, pipeline) for pipeline in PIPELINES[:2]]
        runs = [wait_for_run(api, api_key, run_ids[0])]
        run_ids.append(start_run_over_http(api, org, api_key, *dates, PIPELINES[2]))
        runs += [wait_for_run(api, api_key, run_id) for run_id in run_ids[1:]]
        reported = [_report_run(run) for run in runs]  # every run is shown, failed or not
        if not all(reported):
            return 1
        print_cost_table(cost_table(stack.settings(), org, start.isoformat(), end.isoformat()))
        rows = focus_table(stack.settings(), org, start, end)
        print_focus_table(rows)
        print_reconciliation(reconciliation_table(stack.settings(), org, start, end))
        if {row["ProviderName"] for row in rows} != PROVIDERS_SHOWN:
            return 1
        print(f"\nA scheduled day: every pipeline's schedule for {end} (`dps trigger --date {end}`)")
        return 0 if run_scheduled_day(api, info["root_key"], org, api_key, end.isoformat()) else 1
    finally:
        stack.stop()
