"""Which pipeline a backfill test can afford: one 45-day run (half of the 90-day backfill) of each candidate on
the local stack, through the HTTP API, accepted to COMPLETED; medians of several rounds against the SaaS pipeline
(the baseline: plans priced from Firestore, no provider API) in the same run, alternating which goes first.

    .venv/bin/python benchmarks/backfill_pipelines.py [--rounds 3]

Starts its own stack on free ports (stopped at the end). Asserts nothing: timings depend on the machine and on what
else runs on it; compare the lines of one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

FIRST = date(2025, 5, 1)
DAYS = 45
SLACK = {"vendor": "Slack", "product": "Slack", "plan": "Business+", "seats": 7, "unit_price": "12.50",
         "currency": "USD", "billing_cycle": "monthly", "start_date": "2025-01-10"}  # fmt: skip


def main() -> None:
    from devstack.stack import LocalStack
    from shared.runs.control import control_db
    from shared.saas.plans import create_plan
    from tests.kit.orgs import onboard
    from tests.kit.runs import start_run, wait_for_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dps-backfill-bench-"))
    stack = LocalStack(root / "stack", ports=LocalStack.free_ports(), duckdb_home=root / "duckdb", echo=None)
    with stack:
        settings = stack.settings()
        orgs = {
            "saas/cost/subscriptions": onboard(settings, "enterprise", credential=False, prefix="bs"),
            "openai/cost/usage_cost": onboard(settings, "enterprise", prefix="bo"),
        }
        create_plan(control_db(settings), orgs["saas/cost/subscriptions"]["org_slug"], SLACK)
        timings: dict[str, list[float]] = {pipeline: [] for pipeline in orgs}
        for round_ in range(args.rounds):
            first = FIRST + timedelta(days=DAYS * round_)
            body = {
                "start_date": first.isoformat(),
                "end_date": (first + timedelta(days=DAYS - 1)).isoformat(),
            }
            order = list(orgs) if round_ % 2 == 0 else list(reversed(orgs))
            for pipeline in order:
                began = time.monotonic()
                run = wait_for_run(
                    stack, orgs[pipeline], start_run(stack, orgs[pipeline], body, pipeline), 300
                )
                assert run["status"] == "COMPLETED", run
                timings[pipeline].append(time.monotonic() - began)
    baseline = statistics.median(timings["saas/cost/subscriptions"])
    print(
        f"one {DAYS}-day run, accepted to COMPLETED, median of {args.rounds} (load {os.getloadavg()[0]:.1f})"
    )
    for pipeline, values in timings.items():
        median = statistics.median(values)
        print(f"  {pipeline:<26} {median:6.2f} s  x{median / baseline:4.1f}  {[round(v, 2) for v in values]}")


if __name__ == "__main__":
    main()
