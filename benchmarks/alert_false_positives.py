"""False-positive rate of the anomaly detector (shared/alerts/detect.py) on the demo generators' data, which has
no planted spike: every day it flags is a false alarm. Named baseline in the same run: the naive detector many
tools start with (mean + 3 standard deviations of the previous 28 days), over the same series.

    .venv/bin/python benchmarks/alert_false_positives.py            # 18 weeks, GCP seeds 1-5 + OpenAI sandbox
    .venv/bin/python benchmarks/alert_false_positives.py --weeks 12 --seeds 3

Series: daily cost per (provider, service, currency), as the detector sees cost_focus: the synthetic GCP billing
export (devstack/providers/gcp/export.py, 400 rows a day, one seed per run) and the OpenAI sandbox's billed
cost lines (devstack/providers/openai/records.py). The rate is flagged scope-days / evaluated scope-days (days
with a baseline of at least MIN_WEEKS weeks); the median over the runs is printed. Asserts nothing."""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from shared.alerts import detect

START = date(2026, 5, 4)  # a Monday


def gcp_series(weeks: int, seed: int) -> list[dict]:
    """Daily cost per GCP service and currency of the synthetic export (costs and credits as the export has
    them, exact to the micro)."""
    import pyarrow.compute as pc

    from devstack.providers.gcp.export import ExportSpec, generate_export

    table = generate_export(ExportSpec(start=START, days=7 * weeks, rows_per_day=400, seed=seed))
    days = pc.cast(table["usage_start_time"], "date32")
    services = pc.struct_field(table["service"], "description")
    totals: dict[tuple, Decimal] = defaultdict(Decimal)
    for day, service, currency, cost in zip(
        days.to_pylist(),
        services.to_pylist(),
        table["currency"].to_pylist(),
        table["cost"].to_pylist(),
        strict=True,
    ):
        totals[(day, service, currency)] += Decimal(str(round(cost, 6)))
    return [
        {"day": day, "provider": "Google Cloud", "service": service, "currency": currency, "cost": cost}
        for (day, service, currency), cost in totals.items()
    ]


def openai_series(weeks: int) -> list[dict]:
    """Daily billed cost per OpenAI model of the sandbox (quiet days with no usage count as 0)."""
    from devstack.providers.openai.records import cost_records, day_records

    rows = []
    for offset in range(7 * weeks):
        day = START + timedelta(days=offset)
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for record in day_records(start):
            for line in cost_records([record]):
                totals[record["model"]] += Decimal(line["amount"])
        rows += [
            {"day": day, "provider": "OpenAI", "service": model, "currency": "USD", "cost": cost}
            for model, cost in totals.items()
        ]
    return rows


def rates(rows: list[dict], first: date, last: date) -> tuple[float, float, int]:
    """(detector's rate, naive baseline's rate, scope-days evaluated) over [first, last]."""
    flagged = len(detect.find_anomalies(rows, first, last))
    series: dict[tuple, dict[date, Decimal]] = defaultdict(dict)
    for row in rows:
        series[(row["provider"], row["service"], row["currency"])][row["day"]] = row["cost"]
    evaluated = naive = 0
    for daily in series.values():
        first_seen, day = min(daily), first
        while day <= last:
            if detect.baseline_for(day, daily, first_seen) is not None:
                evaluated += 1
                window = [float(daily.get(day - timedelta(days=n), 0)) for n in range(1, 29)]
                mean, spread = statistics.fmean(window), statistics.pstdev(window)
                naive += float(daily.get(day, 0)) > mean + 3 * spread
            day += timedelta(days=1)
    return flagged / evaluated, naive / evaluated, evaluated


def recall(rows: list[dict], first: date, last: date, factor: int = 3, plants: int = 20) -> float:
    """Share of planted spikes (one scope-day's cost times `factor`, one at a time) the detector flags, over
    scope-days whose cost is at least 20: the other side of the false-positive trade."""
    import random

    rng = random.Random(0)
    candidates = [r for r in rows if first <= r["day"] <= last and r["cost"] >= 20]
    found = 0
    for planted in rng.sample(candidates, min(plants, len(candidates))):
        spiked = [{**r, "cost": r["cost"] * factor} if r is planted else r for r in rows]
        scope = [r for r in spiked if (r["provider"], r["service"], r["currency"]) == (
            planted["provider"], planted["service"], planted["currency"])]  # fmt: skip
        found += any(
            a.day == planted["day"] for a in detect.find_anomalies(scope, planted["day"], planted["day"])
        )
    return found / max(min(plants, len(candidates)), 1)


def main() -> None:
    """Print each run's rates and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=18)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    first, last = START + timedelta(weeks=detect.BASELINE_WEEKS), START + timedelta(days=7 * args.weeks - 1)
    print(
        f"evaluated days {first}..{last}; rule: median + {detect.K} x 1.4826 x MAD, floors "
        f"+{detect.MIN_ABSOLUTE} and x{1 + detect.MIN_RELATIVE}, same weekday over {detect.BASELINE_WEEKS} weeks"
    )
    ours, naive, caught = [], [], []
    runs = [
        (f"gcp seed {seed}", lambda s=seed: gcp_series(args.weeks, s)) for seed in range(1, args.seeds + 1)
    ]
    runs.append(("openai sandbox", lambda: openai_series(args.weeks)))
    for name, make in runs:
        rows = make()
        rate, baseline, evaluated = rates(rows, first, last)
        ours.append(rate)
        naive.append(baseline)
        caught.append(recall(rows, first, last))
        print(
            f"{name:16} scope-days {evaluated:5}  seasonal MAD {rate:7.2%}  naive mean+3sd {baseline:7.2%}"
            f"  x3 spikes caught {caught[-1]:5.0%}"
        )
    print(
        f"median over {len(runs)} runs: seasonal MAD {statistics.median(ours):.2%}, "
        f"naive mean+3sd (baseline) {statistics.median(naive):.2%}"
    )


if __name__ == "__main__":
    main()
