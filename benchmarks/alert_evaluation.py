"""What the alert evaluation adds to each completed load: `evaluate_after_load` on an org with five weeks of SaaS
rows and one budget, against the named baseline of the same stand-in's `SELECT 1` round trip, in one run.

    .venv/bin/python benchmarks/alert_evaluation.py [--repeats 15]

Starts a private local stack without functions (temporary directory), onboards one org, loads five weeks of one
SaaS plan through the worker entry, then times (medians of `--repeats`): `SELECT 1`; the evaluation with no alert
to raise (the daily aggregate query, the budgets read); the evaluation that meets its two alerts already in the
ledger (as every duplicate delivery of a completed run does). Asserts nothing: it depends on the machine."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: tests.kit's orgs and runs

from devstack.stack import LocalStack

DUCKDB_HOME = Path(tempfile.gettempdir()) / "dps-benchmark-duckdb-home"
LAST = date(2026, 10, 14)


def _median_ms(action, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def measure(stack: LocalStack, repeats: int) -> dict[str, float]:
    """The medians, in ms."""
    from shared.alerts import budgets
    from shared.alerts.evaluate import evaluate_after_load
    from shared.providers.saas import PROVIDER as SAAS
    from shared.runs.control import control_db
    from shared.saas import plans
    from shared.worker.entry import handle_run_event
    from tests.kit.orgs import onboard
    from tests.kit.runs import event_for, new_run, worker_deps

    settings = stack.settings()
    deps = worker_deps(settings, _warehouse(settings), None)
    db, first = control_db(settings), LAST - timedelta(days=35)
    quiet, busy = (onboard(settings, credential=False, prefix=p)["org_slug"] for p in ("bq", "bb"))
    for slug, spike in ((quiet, False), (busy, True)):
        terms = {"vendor": "Slack", "product": "Slack", "plan": "Pro", "seats": 10, "unit_price": "30.00",
                 "currency": "USD", "billing_cycle": "monthly", "start_date": first.isoformat()}  # fmt: skip
        plan = plans.create_plan(db, slug, terms)
        if spike:
            plans.change_plan(db, slug, plan["subscription_id"], {"seats": 1000}, LAST)
            budgets.create_budget(db, slug, {"name": "b", "currency": "USD", "amount": "500",
                                             "thresholds": [{"percent": 100}]})  # fmt: skip
        request = new_run(settings, deps.warehouse, slug, "saas/cost/subscriptions", first, LAST)
        assert handle_run_event(event_for(request), SAAS, deps) == "completed"
    run = lambda slug: lambda: evaluate_after_load(deps, slug, "bench", first, LAST)
    return {
        "SELECT 1 (baseline)": _median_ms(lambda: deps.warehouse.query("SELECT 1 AS one"), repeats),
        "evaluation, nothing to raise": _median_ms(run(quiet), repeats),
        "evaluation, 2 alerts already raised": _median_ms(run(busy), repeats),
    }


def _warehouse(settings):
    from shared.platform.clients import make_bigquery_client
    from shared.warehouse.adapter import Warehouse

    return Warehouse(make_bigquery_client(settings), settings.project)


def main() -> None:
    """Start a private stack, measure, print, stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dps-benchmark-") as temporary:
        stack = LocalStack(Path(temporary), ports=LocalStack.free_ports(), start_functions=False,
                           duckdb_home=DUCKDB_HOME, echo=None)  # fmt: skip
        try:
            stack.start()
            os.environ.update(stack.env())
            figures = measure(stack, args.repeats)
        finally:
            stack.stop()
    baseline = figures["SELECT 1 (baseline)"]
    for name, ms in figures.items():
        print(f"{name:38} median {ms:7.1f} ms  ({ms / baseline:4.1f}x SELECT 1)")


if __name__ == "__main__":
    main()
