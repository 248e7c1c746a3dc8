"""Burst benchmark: many orgs fire run requests within a minute; every accepted run must reach a terminal state.

Starts its own local stack (functions included) on free ports, onboards orgs on a mix of plans, paces the requests
over the window with a fixed number in flight, waits for the runs to drain, and reports refusals by reason, lost
and unfinished runs (both must be 0) and latency percentiles. Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `.venv/bin/python benchmarks/burst.py`

from benchmarks.attack import KeyFlood, add_attack_arguments
from devstack.stack import LocalStack
from shared.platform.settings import DEFAULT_CONFIG_DIR, central_table
from shared.tenancy import onboarding
from shared.tenancy.subscriptions import load_plans

PIPELINE = "openai/cost/usage_cost"
DUCKDB_HOME = Path(tempfile.gettempdir()) / "dps-benchmark-duckdb-home"  # shared with run_api.py
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


@dataclass
class Sent:
    """One run request and its answer."""

    org: str
    sent_at: datetime
    latency: float = 0.0
    status: int = 0
    code: str = ""
    run_id: str | None = None
    answered_after: float = 0.0  # seconds from the first request's send to this answer


def onboard(settings, count: int) -> list[tuple[str, str, str]]:
    """`count` orgs cycling through the plans of configs/plans.yml, each with an OpenAI (sandbox) credential."""
    plans, orgs = sorted(load_plans(DEFAULT_CONFIG_DIR)), []
    for i in range(count):
        plan, slug = plans[i % len(plans)], f"burst_{i:02d}_{uuid.uuid4().hex[:6]}"
        key = onboarding.create_org(settings, slug, plan, "ACTIVE")["api_key"]
        onboarding.set_credential(settings, slug, "openai", "sk-admin-benchmark", {})
        orgs.append((slug, key, plan))
    return orgs


def fire(api_url: str, orgs: list, requests: int, seconds: float, concurrency: int) -> list[Sent]:
    """Request i goes to org i mod n for its own day (1-day runs, distinct per org), at t0 + i * window/requests."""
    yesterday, local = datetime.now(UTC).date() - timedelta(days=1), threading.local()
    began, sent = time.monotonic(), [None] * requests

    def send(i: int) -> None:
        slug, key, _ = orgs[i % len(orgs)]
        time.sleep(max(0.0, began + i * seconds / requests - time.monotonic()))
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120)
        day = yesterday - timedelta(days=i // len(orgs))
        record = Sent(slug, datetime.now(UTC))
        started = time.perf_counter()
        try:
            response = local.client.post(
                f"{api_url}/api/v1/pipelines/run/{slug}/{PIPELINE}",
                json={"date": day.isoformat()},
                headers={"X-API-Key": key},
            )
            body = response.json()
            record.status, record.code = response.status_code, body.get("error", {}).get("code", "")
            record.run_id = body.get("pipeline_logging_id")
        except httpx.HTTPError as exc:
            record.code = type(exc).__name__
        record.latency = time.perf_counter() - started
        record.answered_after = time.monotonic() - began
        sent[i] = record

    pool = ThreadPoolExecutor(concurrency)
    try:
        list(pool.map(send, range(requests)))
    finally:  # on Ctrl-C, drop the requests not sent yet instead of sending them all first
        pool.shutdown(wait=True, cancel_futures=True)
    last = max((record.answered_after for record in sent if record), default=0.0)
    print(
        f"fired {requests} requests paced over {seconds:.0f} s; the last answer came {last:.1f} s after the first "
        f"send (window + 5 s = {seconds + 5:.0f} s)",
        flush=True,
    )
    return sent


def runs_of(warehouse, settings, orgs: list) -> dict[str, dict]:
    """Every run of the benchmark's orgs, as the run history's latest-version view shows it."""
    rows = warehouse.query(
        f"SELECT pipeline_logging_id, status, error_code, attempts, created_at, completed_at "
        f"FROM `{central_table(settings, 'org_meta_pipeline_runs_latest')}` WHERE org_slug IN UNNEST(@orgs)",
        {"orgs": [slug for slug, _, _ in orgs]},
    )
    return {row["pipeline_logging_id"]: row for row in rows}


def drain(warehouse, settings, orgs: list, accepted: set[str], timeout: float) -> tuple[dict, float]:
    """Poll until every accepted run is terminal or `timeout` passes; (runs, seconds waited)."""
    began = time.monotonic()
    while True:
        runs = runs_of(warehouse, settings, orgs)
        open_runs = [r for r in accepted if r not in runs or runs[r]["status"] not in TERMINAL]
        waited = time.monotonic() - began
        if not open_runs or waited > timeout:
            return runs, waited
        print(f"  {len(open_runs)} runs not terminal after {waited:.0f} s", flush=True)
        time.sleep(10)


def percentiles(values: list[float]) -> str:
    """p50/p90/p99/max in seconds."""
    if len(values) < 2:
        return "n/a" if not values else f"only {values[0]:.2f} s"
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49]:.2f} s, p90 {q[89]:.2f} s, p99 {q[98]:.2f} s, max {max(values):.2f} s"


def report(
    sent: list[Sent], runs: dict, accepted: set[str], waited: float, timeout: float, orgs: list
) -> None:
    """Print the figures the README explains."""
    print(
        f"\n{len(sent)} run requests across {len(orgs)} orgs ({dict(Counter(p for _, _, p in orgs))}), "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    answers = Counter((s.status, s.code or ("duplicate" if s.status == 200 else "accepted")) for s in sent)
    for (status, code), n in sorted(answers.items()):
        print(f"  {status} {code:<28} {n:>5}")
    lost = [r for r in accepted if r not in runs]
    unfinished = [r for r in accepted if r in runs and runs[r]["status"] not in TERMINAL]
    never_claimed = [r for r in unfinished if not runs[r]["attempts"]]
    unexpected = set(runs) - accepted - {s.run_id for s in sent if s.run_id}
    outcomes = Counter((runs[r]["status"], runs[r]["error_code"] or "") for r in accepted if r in runs)
    print(f"accepted {len(accepted)}; run outcomes {dict(outcomes)}")
    print(
        f"runs lost (accepted, no run row): {len(lost)}; run rows no request accounts for: {len(unexpected)}"
    )
    print(
        f"runs not terminal after the drain ({waited:.0f} s of {timeout:.0f} s allowed): {len(unfinished)} "
        f"({len(never_claimed)} never claimed by a worker)"
    )
    sent_at = {s.run_id: s.sent_at for s in sent if s.status == 202}
    e2e = [
        (runs[r]["completed_at"] - sent_at[r]).total_seconds()
        for r in accepted
        if r in runs and runs[r]["status"] == "COMPLETED"
    ]
    print(f"end to end (request -> COMPLETED, {len(e2e)} runs): {percentiles(e2e)}")
    print(f"API response, all requests: {percentiles([s.latency for s in sent])}")
    print(f"API response, accepted (202): {percentiles([s.latency for s in sent if s.status == 202])}")
    # Each org's first request looks its key up (a cold cache): the rest show the steady state.
    first = {}
    for record in sorted((s for s in sent if s), key=lambda s: s.sent_at):
        first.setdefault(record.org, record)
    firsts = list(first.values())
    warm = [s.latency for s in sent if s and s is not first[s.org]]
    print(
        f"API response, each org's first request ({len(firsts)}): {percentiles([s.latency for s in firsts])}"
    )
    print(f"API response, all but each org's first request: {percentiles(warm)}")


def main() -> None:
    """Start a private stack, onboard, fire, drain, report, stop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="window the requests are paced over")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at most")
    parser.add_argument(
        "--drain-timeout", type=float, default=1800.0, help="seconds to wait for terminal runs"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep the stack's data and logs here (default: a temp dir)"
    )
    add_attack_arguments(
        parser,
        "also send this many run requests with invalid keys over the window "
        "(issue 18 uses 200); compare with a run without it",
    )
    args = parser.parse_args()
    if args.requests // max(args.orgs, 1) > 1000:  # days back from yesterday must stay within three years
        parser.error("at most 1000 requests per org")

    with tempfile.TemporaryDirectory(prefix="dps-burst-") as temporary:
        stack = LocalStack(
            Path(args.data_dir or temporary), ports=LocalStack.free_ports(), duckdb_home=DUCKDB_HOME
        )
        try:
            stack.start()
            os.environ.update(stack.env())  # this process's admin calls reach the same stand-ins
            settings = stack.settings()
            from shared.platform.clients import make_bigquery_client
            from shared.warehouse.adapter import Warehouse

            warehouse = Warehouse(make_bigquery_client(settings), settings.project)
            orgs = onboard(settings, args.orgs)
            print(f"load average before: {os.getloadavg()}", flush=True)
            flood = None
            if args.attack:  # invalid keys against the first org's path, paced over the same window
                url = f"{stack.api_url}/api/v1/pipelines/run/{orgs[0][0]}/{PIPELINE}"
                flood = KeyFlood(
                    url, args.attack, args.attack_concurrency, args.seconds, args.attack_keys
                ).start()
            sent = fire(stack.api_url, orgs, args.requests, args.seconds, args.concurrency)
            if flood:
                flood.join()
                print(f"flood beside the burst: {flood.summary()}", flush=True)
            accepted = {s.run_id for s in sent if s.status == 202 and s.run_id}
            runs, waited = drain(warehouse, settings, orgs, accepted, args.drain_timeout)
            report(sent, runs, accepted, waited, args.drain_timeout, orgs)
            print(f"load average after: {os.getloadavg()}")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
