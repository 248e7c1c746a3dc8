"""The alert rows an evaluation writes, from daily aggregates (pure parts of shared/alerts/evaluate.py): budgets
count only their currency and provider, forecasts extrapolate the month, NUMERIC values keep 9 places."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

from shared.alerts import detect
from shared.alerts.evaluate import anomaly_rows, budget_rows

NOW = datetime(2026, 11, 11, tzinfo=UTC)


def _row(day: int, provider: str, currency: str, cost: str, billed: str = "0") -> dict:
    return {"day": date(2026, 11, day), "provider": provider, "service": "S", "currency": currency,
            "cost": D(cost), "billed": D(billed)}  # fmt: skip


def _budget(**fields) -> dict:
    return {"budget_id": "bud_1", "name": "b", "provider": None, "currency": "USD", "amount": "1000",
            "metric": "EffectiveCost", "thresholds": [{"percent": 50, "basis": "actual"},
            {"percent": 100, "basis": "actual"}, {"percent": 100, "basis": "forecast"}], **fields}  # fmt: skip


def _rows_for(budget: dict, rows: list[dict]) -> list[tuple]:
    found = budget_rows("acme", "run", [budget], rows, [date(2026, 11, 1)], NOW)
    return [(r["threshold"], r["observed"], r["bound"]) for r in found]


def test_a_budget_counts_its_currency_and_provider_only():
    # USD: 200 (OpenAI) + 150 (Slack) on the 1st-10th; a EUR row of 5000 is never added to dollars.
    rows = [
        _row(1, "OpenAI", "USD", "200"),
        _row(10, "Slack", "USD", "150"),
        _row(5, "OpenAI", "EUR", "5000"),
    ]
    # All providers: actual 350 (< 500); forecast 350 / 10 days * 30 = 1050 >= 1000.
    assert _rows_for(_budget(), rows) == [("100:forecast", "1050.000000000", "1000.000000000")]
    # OpenAI only: actual 200, forecast over the days to its last row (the 1st): 200 * 30 = 6000.
    assert _rows_for(_budget(provider="OpenAI"), rows) == [
        ("100:forecast", "6000.000000000", "1000.000000000")
    ]
    # EUR: 5000 of a 1000 budget, last data the 5th: every threshold.
    assert [t for t, _, _ in _rows_for(_budget(currency="EUR"), rows)] == [
        "50:actual",
        "100:actual",
        "100:forecast",
    ]
    assert _rows_for(_budget(currency="GBP"), rows) == []


def test_a_billed_cost_budget_reads_billed_cost():
    rows = [_row(1, "Slack", "USD", "10", billed="600")]
    assert [t for t, _, _ in _rows_for(_budget(metric="BilledCost"), rows)] == ["50:actual", "100:forecast"]


def test_alert_ids_name_budget_month_and_threshold():
    (row,) = budget_rows("acme", "run", [_budget(thresholds=[{"percent": 50, "basis": "actual"}])],
                         [_row(3, "OpenAI", "USD", "500")], [date(2026, 11, 1)], NOW)  # fmt: skip
    assert row["alert_id"] == detect.alert_id("acme", "budget", "bud_1", "2026-11", "50:actual")
    assert (row["kind"], row["period"], row["currency"]) == ("budget", "2026-11", "USD")


def test_anomaly_values_keep_nine_decimal_places():
    found = detect.Anomaly(
        date(2026, 11, 3), "OpenAI", "GPT", "USD", D("100.5"), D("10.0000000005"), D("30.123")
    )
    (row,) = anomaly_rows("acme", "run", [found], NOW)
    assert (row["observed"], row["expected"], row["bound"]) == (
        "100.500000000",
        "10.000000000",
        "30.123000000",
    )
    assert row["scope"] == "OpenAI|GPT|USD" and row["period"] == "2026-11-03"
