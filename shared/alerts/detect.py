"""The alerting maths, pure (no I/O): the seasonal median + MAD anomaly test, budget crossings, alert ids.

Anomaly (per ProviderName, ServiceName and BillingCurrency, on daily EffectiveCost): the baseline of day D is the
cost on the same weekday of the BASELINE_WEEKS weeks before it (D-7, D-14, ...), a week with no row counting as 0
once the scope has data (weeks before its first day with data are not observed). With at least MIN_WEEKS observed,
D is anomalous when all three hold:
    cost > median + K * 1.4826 * MAD      (1.4826 * MAD estimates one standard deviation of normal noise)
    cost - median >= MIN_ABSOLUTE         (a jump of cents is never worth a page)
    cost >= median * (1 + MIN_RELATIVE)   (nor is +3 % of a large, steady spend)
Why median/MAD over mean/stdev: one earlier spike in the baseline would inflate a stdev and hide the next one;
the median and MAD ignore up to half the baseline being outliers. Why the same weekday: weekday/weekend spend
differs by design in most orgs, so comparing a Monday with a Sunday would flag every Monday.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

# Chosen on the demo generators' data (benchmarks/alert_false_positives.py, README "Alerts"): with K 3.5 (the
# modified z-score cut of Iglewicz and Hoaglin) and floors +5 / +50 % the rate was 1.3 % of scope-days, about
# eight false alarms a month for an org with 20 services; K 5, +20 and double: ~0.1 %.
K = Decimal(5)
MAD_SCALE = Decimal("1.4826")
MIN_ABSOLUTE = Decimal(20)  # currency units above the median
MIN_RELATIVE = Decimal(1)  # 100 % above the median: the day's cost at least doubles
BASELINE_WEEKS = 8
MIN_WEEKS = 4
HISTORY_DAYS = 7 * BASELINE_WEEKS  # how far before the first evaluated day the aggregate query reads


@dataclass(frozen=True)
class Anomaly:
    """One anomalous day of one scope: its cost, the baseline median and the bound it exceeded."""

    day: date
    provider: str
    service: str
    currency: str
    cost: Decimal
    median: Decimal
    bound: Decimal


def median(values: list[Decimal]) -> Decimal:
    """The median (the mean of the two middle values of an even count), exact."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def anomaly_bound(baseline: list[Decimal]) -> tuple[Decimal, Decimal]:
    """(median, the cost a day must exceed) of a baseline: all three rules of the module docstring combined."""
    centre = median(baseline)
    mad = median([abs(value - centre) for value in baseline])
    return centre, max(centre + K * MAD_SCALE * mad, centre + MIN_ABSOLUTE, centre * (1 + MIN_RELATIVE))


def baseline_for(day: date, daily: dict[date, Decimal], first_seen: date) -> list[Decimal] | None:
    """The same-weekday costs of the weeks before `day` that the scope was observed; None if fewer than
    MIN_WEEKS."""
    days = [day - timedelta(weeks=week) for week in range(1, BASELINE_WEEKS + 1)]
    observed = [daily.get(earlier, Decimal(0)) for earlier in days if earlier >= first_seen]
    return observed if len(observed) >= MIN_WEEKS else None


def find_anomalies(rows: list[dict], first: date, last: date) -> list[Anomaly]:
    """The anomalous days in [first, last] of aggregated rows {day, provider, service, currency, cost}; the
    rows cover at least HISTORY_DAYS before `first` (the scope's first day with data sets where weeks count)."""
    series: dict[tuple[str, str, str], dict[date, Decimal]] = {}
    for row in rows:
        key = (row["provider"], row["service"], row["currency"])
        series.setdefault(key, {})[row["day"]] = Decimal(row["cost"])
    found = []
    for (provider, service, currency), daily in sorted(series.items()):
        first_seen = min(daily)
        day = first
        while day <= last:
            cost = daily.get(day, Decimal(0))
            baseline = baseline_for(day, daily, first_seen)
            if baseline is not None:
                centre, bound = anomaly_bound(baseline)
                if cost > bound:
                    found.append(Anomaly(day, provider, service, currency, cost, centre, bound))
            day += timedelta(days=1)
    return found


def month_bounds(day: date) -> tuple[date, date]:
    """The first and last day of `day`'s calendar month."""
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def months_between(first: date, last: date) -> list[date]:
    """The first days of the calendar months that [first, last] touches."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = month_bounds(month)[1] + timedelta(days=1)
    return months


def forecast(actual: Decimal, month: date, last_day_with_data: date) -> Decimal:
    """The month's spend at its run rate so far: actual / days elapsed (to the last day with data) * days in the
    month; exact (quantized to 9 places, NUMERIC's scale)."""
    days_in_month = calendar.monthrange(month.year, month.month)[1]
    elapsed = last_day_with_data.day
    return (actual * days_in_month / elapsed).quantize(Decimal("1e-9"))


def crossed(thresholds: list[dict], amount: Decimal, actual: Decimal, projected: Decimal) -> list[dict]:
    """The thresholds ({percent, basis}) reached: actual or forecast >= amount * percent / 100."""
    values = {"actual": actual, "forecast": projected}
    return [t for t in thresholds if values[t["basis"]] >= amount * t["percent"] / 100]


def alert_id(org_slug: str, kind: str, scope: str, period: str, threshold: str) -> str:
    """The deterministic id of one alert: the same (org, kind, scope, day or month, threshold) is the same id,
    so a redelivered or concurrent evaluation finds the ledger entry instead of alerting again."""
    digest = hashlib.sha256(f"{org_slug}|{kind}|{scope}|{period}|{threshold}".encode()).hexdigest()
    return f"alr_{digest[:24]}"
