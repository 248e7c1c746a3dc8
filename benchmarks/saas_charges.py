"""Pricing SaaS plans per day (shared/providers/saas/charges.py through the step's transform): medians of several
runs for a big org's plans over the scheduled day (the baseline), a fan-out slice (92 days) and a year, in one run.

    .venv/bin/python benchmarks/saas_charges.py [--plans 2000] [--rounds 5]

Asserts nothing: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from shared.providers.saas.steps import transform_plans
from shared.saas.terms import apply_change, validate_terms
from tests.kit.steps import step_context

END = date(2026, 11, 29)
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def synthetic_plans(count: int, seed: int = 16) -> list[dict]:
    """`count` plans: monthly and annual, USD/EUR/JPY, each with 0-4 changes (seat ups and downs) over the year."""
    rng = random.Random(seed)
    plans = []
    for n in range(count):
        start = END - timedelta(days=rng.randint(30, 900))
        terms = validate_terms(
            {
                "vendor": f"Vendor {n % 50}",
                "product": f"Product {n % 120}",
                "plan": rng.choice(["Pro", "Business", "Enterprise"]),
                "seats": rng.randint(1, 500),
                "unit_price": f"{rng.randint(1, 300)}.{rng.randint(0, 99):02d}",
                "currency": rng.choice(["USD", "USD", "EUR", "JPY"]),
                "billing_cycle": rng.choice(["monthly", "monthly", "monthly", "annual"]),
                "start_date": start.isoformat(),
                "discount_percent": rng.choice(["0", "5", "12.5"]),
            }
        )
        versions = [{"version": 1, "effective_date": terms["start_date"], "terms": terms}]
        for number in range(2, 2 + rng.randint(0, 4)):
            effective = start + timedelta(days=rng.randint(1, (END - start).days))
            terms = apply_change(terms, {"seats": max(0, terms["seats"] + rng.randint(-20, 40))})
            versions.append({"version": number, "effective_date": effective.isoformat(), "terms": terms})
        plans.append({"subscription_id": f"saas_{n:024x}", "versions": versions})
    return plans


def measure(plans: list[dict], days: int, rounds: int) -> tuple[float, int]:
    """(median seconds, rows) of pricing `plans` over the `days` days ending END."""
    start = END - timedelta(days=days - 1)
    ctx = step_context("saas", start, END, "")
    timings, rows = [], 0
    for _ in range(rounds):
        began = time.perf_counter()
        rows = len(transform_plans(plans, ctx, ingested_at=NOW))
        timings.append(time.perf_counter() - began)
    return statistics.median(timings), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    plans = synthetic_plans(args.plans)
    print(
        f"{args.plans} plans, {sum(len(p['versions']) for p in plans)} versions, medians of {args.rounds} runs"
    )
    baseline, _ = measure(plans, 1, args.rounds)
    for label, days in (
        ("1 day (baseline: the daily schedule)", 1),
        ("92 days (a slice)", 92),
        ("366 days", 366),
    ):
        seconds, rows = measure(plans, days, args.rounds)
        print(
            f"{label:38} {seconds * 1000:9.1f} ms  {rows:>9,} rows  {rows / seconds:>10,.0f} rows/s  "
            f"x{seconds / baseline:.1f} the baseline"
        )


if __name__ == "__main__":
    main()
