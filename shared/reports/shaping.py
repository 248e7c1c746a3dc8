"""What the report shows, computed from the rows its queries return: pure functions, no I/O.

Money stays Decimal: sums are exact (a context wide enough for any sum of NUMERIC(38, 9) values), amounts of
different currencies are never added, and every amount printed is its exact decimal text. Only the charts get
floats (`plot_value`)."""

from __future__ import annotations

import calendar
import decimal
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

# NUMERIC holds 38 digits; 76 digits of precision add millions of them without rounding.
EXACT = decimal.Context(prec=76, traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])
# Ratios (percent of a budget, a forecast) are rounded for display: never summed or stored.
RATIO = decimal.Context(prec=40)
ZERO = Decimal(0)
TOP_N = 10


def exact_sum(values) -> Decimal:
    """The exact sum of Decimals (None counts as nothing); raises rather than round."""
    total = ZERO
    for value in values:
        if value is not None:
            total = EXACT.add(total, value)
    return total


def exact_text(value: Decimal | None) -> str:
    """An amount as exact decimal text: every significant digit, at least two decimals, never an exponent."""
    if value is None:
        return ""
    if value == value.to_integral_value():
        return f"{value:.2f}"
    text = f"{value.normalize(EXACT):f}"  # the default context's 28 digits would round NUMERIC's 38
    return text if len(text.partition(".")[2]) >= 2 else f"{value:.2f}"


def plot_value(value: Decimal | None) -> float:
    """An amount as a float, for a chart's geometry only (never printed, stored or compared)."""
    return float(value) if value is not None else 0.0


def add_by(rows: list[dict], keys: tuple[str, ...], amounts: tuple[str, ...]) -> list[dict]:
    """Group `rows` by `keys` and exactly sum `amounts`; a row per group, in order of first appearance."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[key] for key in keys)].append(row)
    return [
        {
            **dict(zip(keys, group, strict=True)),
            **{amount: exact_sum(r[amount] for r in members) for amount in amounts},
        }
        for group, members in groups.items()
    ]


def currencies(rows: list[dict]) -> list[str]:
    """The billing currencies of `rows`, sorted: one chart (and one total) each."""
    return sorted({row["currency"] for row in rows})


def totals(rows: list[dict]) -> list[dict]:
    """BilledCost and EffectiveCost per provider and currency over the period, by currency then provider."""
    summed = add_by(rows, ("provider", "currency"), ("billed", "effective"))
    return sorted(summed, key=lambda r: (r["currency"], r["provider"]))


def daily_by_provider(rows: list[dict], currency: str) -> list[dict]:
    """EffectiveCost per charge day and provider in one currency, by day then provider."""
    own = [row for row in rows if row["currency"] == currency]
    summed = add_by(own, ("day", "provider"), ("effective",))
    return sorted(summed, key=lambda r: (r["day"], r["provider"]))


def top(rows: list[dict], currency: str, key: str, n: int = TOP_N) -> list[dict]:
    """The `n` largest `key`s (with their provider) by EffectiveCost in one currency; rows whose `key` is empty
    (a service-less or model-less charge) are left out."""
    own = [row for row in rows if row["currency"] == currency and row.get(key)]
    summed = add_by(own, ("provider", key), ("effective", "billed"))
    return sorted(summed, key=lambda r: (-r["effective"], r["provider"], r[key]))[:n]


def reconciliation(rows: list[dict]) -> list[dict]:
    """Billed against estimated LLM cost per provider and currency over the period, with the difference; an
    estimate is None when a day's is (unpriced lines), and so is the difference."""
    out = []
    for group in add_by(rows, ("provider", "currency"), ()):
        members = [
            r for r in rows if (r["provider"], r["currency"]) == (group["provider"], group["currency"])
        ]
        estimated = [r["estimated_cost"] for r in members]
        known = None if any(value is None for value in estimated) else exact_sum(estimated)
        billed = exact_sum(r["billed_cost"] for r in members)
        difference = None if known is None else EXACT.subtract(billed, known)
        unpriced = sorted({m for r in members for m in (r.get("unpriced_models") or "").split(", ") if m})
        out.append(
            {**group, "billed": billed, "estimated": known, "difference": difference, "unpriced": unpriced}
        )
    return sorted(out, key=lambda r: (r["provider"], r["currency"]))


@dataclass(frozen=True)
class Month:
    """The budget month the report looks at: the calendar month (UTC) of its last day, up to that day."""

    start: date
    as_of: date

    @classmethod
    def of(cls, day: date) -> Month:
        """The month of `day`, as of `day`."""
        return cls(day.replace(day=1), day)

    @property
    def days(self) -> int:
        """Days in the calendar month."""
        return calendar.monthrange(self.start.year, self.start.month)[1]

    @property
    def end(self) -> date:
        """The month's last day."""
        return self.start + timedelta(days=self.days - 1)


METRIC_COLUMNS = {"EffectiveCost": "effective", "BilledCost": "billed"}


def budget_status(budget: dict, month_rows: list[dict], month: Month) -> dict:
    """One budget against the month's spend so far: spend (its metric, its currency, its provider or all),
    percent of the amount, a run-rate forecast of the month and the thresholds reached by either."""
    column = METRIC_COLUMNS[budget["metric"]]
    spent = exact_sum(
        row[column]
        for row in month_rows
        if row["currency"] == budget["currency"]
        and (budget["provider"] is None or row["provider"] == budget["provider"])
    )
    elapsed = (month.as_of - month.start).days + 1
    forecast = RATIO.divide(RATIO.multiply(spent, month.days), elapsed)
    amount = budget["amount"]
    percent = RATIO.divide(RATIO.multiply(spent, 100), amount)
    forecast_percent = RATIO.divide(RATIO.multiply(forecast, 100), amount)
    reached = [
        threshold
        for threshold in budget["thresholds"]
        if (percent if threshold["basis"] == "actual" else forecast_percent) >= threshold["percent"]
    ]
    return {
        **budget,
        "spent": spent,
        "percent": percent.quantize(Decimal("0.1"), context=RATIO),
        "forecast": forecast.quantize(Decimal("0.01"), context=RATIO),
        "forecast_percent": forecast_percent.quantize(Decimal("0.1"), context=RATIO),
        "reached": reached,
    }
