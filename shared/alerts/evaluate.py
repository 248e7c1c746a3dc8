"""After a load: aggregate the org's cost_focus by day in BigQuery (the rows never leave it un-aggregated), find
the anomalous days among those loaded and the budgets crossed in the months they touch, and record each alert once
(shared/alerts/ledger.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from shared.alerts import detect
from shared.alerts.ledger import record_alert

ANOMALY_RULE = f"mad{detect.K}"
NUMERIC_SCALE = Decimal(
    "1e-9"
)  # BigQuery NUMERIC keeps 9 decimal places: a median of two or a bound has more


def _numeric(value: Decimal) -> str:
    """A NUMERIC column's value, as an exact decimal string."""
    return str(value.quantize(NUMERIC_SCALE))


def daily_costs(warehouse, settings, org_slug: str, first: date, last: date) -> list[dict]:
    """Cost per (day, provider, service, currency) of [first, last]: EffectiveCost and BilledCost, NUMERIC."""
    table = warehouse.table_id(settings.org_dataset(org_slug), "cost_focus")
    return warehouse.query(
        f"""
        SELECT DATE(ChargePeriodStart) AS day, ProviderName AS provider, ServiceName AS service,
               BillingCurrency AS currency, SUM(EffectiveCost) AS cost, SUM(BilledCost) AS billed
        FROM `{table}`
        WHERE ChargePeriodStart >= @start AND ChargePeriodStart < @end
        GROUP BY day, provider, service, currency
        """,
        {
            "start": datetime.combine(first, time(), UTC),
            "end": datetime.combine(last + timedelta(days=1), time(), UTC),
        },
    )


def anomaly_rows(org_slug: str, run_id: str, anomalies: list[detect.Anomaly], now: datetime) -> list[dict]:
    """The alert rows of anomalous days."""
    rows = []
    for found in anomalies:
        scope = f"{found.provider}|{found.service}|{found.currency}"
        period = found.day.isoformat()
        rows.append(
            {
                "alert_id": detect.alert_id(org_slug, "anomaly", scope, period, ANOMALY_RULE),
                "org_slug": org_slug,
                "kind": "anomaly",
                "scope": scope,
                "period": period,
                "threshold": ANOMALY_RULE,
                "provider_name": found.provider,
                "service_name": found.service,
                "currency": found.currency,
                "metric": "EffectiveCost",
                "observed": _numeric(found.cost),
                "expected": _numeric(found.median),
                "bound": _numeric(found.bound),
                "budget_id": None,
                "budget_name": None,
                "message": (
                    f"{found.provider} {found.service} cost {found.cost} {found.currency} on {period}, "
                    f"above its usual {found.median} (bound {found.bound.quantize(Decimal('0.01'))})"
                ),
                "pipeline_logging_id": run_id,
                "created_at": now.isoformat(),
            }
        )
    return rows


def budget_rows(org_slug: str, run_id: str, budgets: list[dict], rows: list[dict], months, now) -> list[dict]:
    """The alert rows of every budget threshold reached in `months` (first days), from the daily aggregates."""
    alerts = []
    for budget in budgets:
        column = "cost" if budget["metric"] == "EffectiveCost" else "billed"
        for month in months:
            end = detect.month_bounds(month)[1]
            days = [
                row
                for row in rows
                if month <= row["day"] <= end
                and row["currency"] == budget["currency"]
                and budget["provider"] in (None, row["provider"])
            ]
            if not days:
                continue
            actual = sum((Decimal(row[column]) for row in days), Decimal(0))
            projected = detect.forecast(actual, month, max(row["day"] for row in days))
            amount = Decimal(budget["amount"])
            for threshold in detect.crossed(budget["thresholds"], amount, actual, projected):
                alerts.append(_budget_row(org_slug, run_id, budget, month, threshold, actual, projected, now))
    return alerts


def _budget_row(org_slug, run_id, budget, month, threshold, actual, projected, now) -> dict:
    period, amount = month.strftime("%Y-%m"), Decimal(budget["amount"])
    label = f"{threshold['percent']}:{threshold['basis']}"
    observed = actual if threshold["basis"] == "actual" else projected
    return {
        "alert_id": detect.alert_id(org_slug, "budget", budget["budget_id"], period, label),
        "org_slug": org_slug,
        "kind": "budget",
        "scope": budget["budget_id"],
        "period": period,
        "threshold": label,
        "provider_name": budget["provider"],
        "service_name": None,
        "currency": budget["currency"],
        "metric": budget["metric"],
        "observed": _numeric(observed),
        "expected": _numeric(amount),
        "bound": _numeric(amount * threshold["percent"] / 100),
        "budget_id": budget["budget_id"],
        "budget_name": budget["name"],
        "message": (
            f"Budget {budget['name']!r}: {period} {threshold['basis']} {budget['metric']} {observed} "
            f"{budget['currency']} reached {threshold['percent']} % of {amount}"
        ),
        "pipeline_logging_id": run_id,
        "created_at": now.isoformat(),
    }


def evaluate_after_load(deps, org_slug: str, run_id: str, first: date, last: date) -> dict[str, int]:
    """Detect and record the alerts of a load of [first, last]; the count of each ledger outcome."""
    from shared.alerts.budgets import org_budgets
    from shared.runs.control import control_db

    db = control_db(deps.settings)
    months = detect.months_between(first, last)
    start = min(first - timedelta(days=detect.HISTORY_DAYS), months[0])
    rows = daily_costs(deps.warehouse, deps.settings, org_slug, start, detect.month_bounds(last)[1])
    now = datetime.now(UTC)
    found = detect.find_anomalies(rows, first, last)
    alerts = anomaly_rows(org_slug, run_id, found, now)
    alerts += budget_rows(org_slug, run_id, org_budgets(db, org_slug), rows, months, now)
    outcomes: dict[str, int] = {}
    for row in alerts:
        outcome = record_alert(db, deps.warehouse, deps.publisher_client(), deps.settings, row)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
