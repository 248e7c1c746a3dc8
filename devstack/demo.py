"""`dps demo`: start the local stack, run every provider's demo pipelines for a week over HTTP, print what each
provider's local half reports, cost_focus and the LLM reconciliation, then run a scheduled day through the
scheduler and Cloud Tasks, write the week's cost report (`dps report`) and print its path, stop."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from devstack.demo_org import onboard_demo_org

RUN_WAIT_SECONDS = 180
DEMO_PLAN_CONCURRENCY = 2  # the demo org's plan (professional) runs two at a time


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


def _report_run(run: dict) -> bool:
    sliced = (
        f", {run['slices_done']}/{run['slices_total']} slices in parallel" if run.get("slices_total") else ""
    )
    print(
        f"run {run['pipeline_logging_id']} ({run.get('pipeline_id')}): {run['status']}, "
        f"rows written {run.get('rows_written')}{sliced}"
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


def write_demo_report(settings, org: str, start, end, directory: Path) -> Path:
    """`dps report` for the demo week: the page (and its charts' PNGs) under `directory`; prints the page's path."""
    from shared.cli.report import make_report

    paths = make_report(settings, org, start, end, directory / f"report-{org}-{start}-{end}.html")
    print(
        f"\nCost report: {paths[0].resolve()} (open it in a browser; {len(paths) - 1} chart PNGs beside it)"
    )
    return paths[0]


def run_in_order(
    api: str,
    org: str,
    api_key: str,
    dates: tuple[str, str],
    pipelines: list[str],
    concurrency: int = DEMO_PLAN_CONCURRENCY,
) -> list[dict]:
    """Run `pipelines` over HTTP in order, at most `concurrency` (the org's plan's) in flight, the oldest waited
    for first; returns the final runs, in order."""
    started: list[str] = []
    runs: list[dict] = []
    for pipeline in pipelines:
        if len(started) - len(runs) == concurrency:
            runs.append(wait_for_run(api, api_key, started[len(runs)]))
        started.append(start_run_over_http(api, org, api_key, *dates, pipeline))
    return runs + [wait_for_run(api, api_key, run_id) for run_id in started[len(runs) :]]


def run_demo(local_dir: Path, days: int = 7) -> int:
    """The whole demo; exit code 0 only if every run COMPLETED and cost_focus shows every provider."""
    from devstack.demo_report import (
        focus_table,
        print_focus_table,
        print_reconciliation,
        print_reconciliation_detail,
        reconciliation_detail,
        reconciliation_table,
    )
    from devstack.providers import LOCAL_PROVIDERS
    from devstack.stack import LocalStack
    from devstack.up import publish_stack_file
    from shared.providers.registry import PROVIDERS

    stack = LocalStack(data_dir=local_dir)
    try:
        stack.start()
        onboard_demo_org(stack)
        info = publish_stack_file(stack, local_dir / "stack.json")
        end = datetime.now(UTC).date() - timedelta(days=1)
        start = end - timedelta(days=days - 1)
        org, api_key, api = info["demo_org"]["slug"], info["demo_org"]["api_key"], info["api_url"]
        pipelines = [pipeline for local in LOCAL_PROVIDERS.values() for pipeline in local.demo_pipelines]
        runs = run_in_order(api, org, api_key, (start.isoformat(), end.isoformat()), pipelines)
        reported = [_report_run(run) for run in runs]  # every run is shown, failed or not
        if not all(reported):
            return 1
        for local in LOCAL_PROVIDERS.values():
            if local.demo_report is not None:
                local.demo_report(stack.settings(), org, start, end)
        rows = focus_table(stack.settings(), org, start, end)
        print_focus_table(rows)
        print_reconciliation(reconciliation_table(stack.settings(), org, start, end))
        print_reconciliation_detail(reconciliation_detail(stack.settings(), org, start, end))
        # A provider whose rows name their own vendors (SaaS) shows under those names: it must add some.
        named = [PROVIDERS[name].focus for name in LOCAL_PROVIDERS]
        fixed = {focus.provider_name for focus in named if not focus.names_per_row}
        shown = {row["ProviderName"] for row in rows}
        if not fixed <= shown or (len(fixed) < len(named) and not shown - fixed):
            return 1
        print(f"\nA scheduled day: every pipeline's schedule for {end} (`dps trigger --date {end}`)")
        scheduled = run_scheduled_day(api, info["root_key"], org, api_key, end.isoformat())
        write_demo_report(stack.settings(), org, start, end, local_dir / "reports")
        return 0 if scheduled else 1
    finally:
        stack.stop()
