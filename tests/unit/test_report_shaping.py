"""The cost report's data shaping: exact decimal sums and text, currencies never added, top services and models,
the LLM reconciliation summary, budgets against the month, the period's defaults and refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from shared.cli.report import report_period
from shared.reports import shaping
from shared.reports.budgets import BudgetUnreadable, parse_budget
from shared.tenancy.onboarding import AdminError

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def _cost(day, provider, currency, effective, billed=None, service="svc", model=None):
    billed = effective if billed is None else billed
    return {
        "day": day,
        "provider": provider,
        "service": service,
        "model": model,
        "currency": currency,
        "billed": Decimal(billed),
        "effective": Decimal(effective),
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("150.000000000"), "150.00"),
        (Decimal("1.5"), "1.50"),
        (Decimal("0.000000001"), "0.000000001"),
        (Decimal("-12.345000000"), "-12.345"),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("99999999999999999999999999999.999999999"), "99999999999999999999999999999.999999999"),
    ],
)
def test_amounts_are_printed_exactly(value, text):
    assert shaping.exact_text(value) == text
    assert Decimal(text) == value


def test_totals_are_exact_per_provider_and_currency_and_never_add_currencies():
    big = "99999999999999999999999999999.999999999"  # NUMERIC's largest: a 28-digit context would round it
    rows = [
        _cost(D1, "OpenAI", "USD", big, billed="0.000000001"),
        _cost(D2, "OpenAI", "USD", "0.000000001", billed="0.1"),
        _cost(D1, "Figma", "EUR", "1.97"),
        _cost(D1, "Figma", "USD", "2.00"),
    ]
    totals = shaping.totals(rows)
    assert [(t["provider"], t["currency"]) for t in totals] == [
        ("Figma", "EUR"),
        ("Figma", "USD"),
        ("OpenAI", "USD"),
    ]
    openai = totals[2]
    assert openai["effective"] == Decimal("100000000000000000000000000000.000000000")
    assert openai["billed"] == Decimal("0.100000001")
    assert shaping.currencies(rows) == ["EUR", "USD"]


def test_daily_series_keep_one_currency_each():
    rows = [
        _cost(D1, "OpenAI", "USD", "1.25", service="a"),
        _cost(D1, "OpenAI", "USD", "0.75", service="b"),
        _cost(D1, "Figma", "EUR", "9"),
        _cost(D2, "Figma", "USD", "3"),
    ]
    usd = shaping.daily_by_provider(rows, "USD")
    assert [(r["day"], r["provider"], r["effective"]) for r in usd] == [
        (D1, "OpenAI", Decimal("2.00")),
        (D2, "Figma", Decimal(3)),
    ]
    assert [r["effective"] for r in shaping.daily_by_provider(rows, "EUR")] == [Decimal(9)]


def test_top_models_leave_out_rows_without_one_and_keep_the_largest():
    rows = [
        _cost(D1, "OpenAI", "USD", "5", model="gpt-4o"),
        _cost(D2, "OpenAI", "USD", "1", model="gpt-4o"),
        _cost(D1, "Anthropic", "USD", "4", model="claude-sonnet-4-5"),
        _cost(D1, "Google Cloud", "USD", "100", model=None),
        _cost(D1, "OpenAI", "EUR", "50", model="gpt-4o-mini"),
        *[_cost(D1, "OpenAI", "USD", f"0.{n}", model=f"m{n}") for n in range(1, 10)],
    ]
    top = shaping.top(rows, "USD", "model", n=3)
    assert [(r["model"], r["effective"]) for r in top] == [
        ("gpt-4o", Decimal(6)),
        ("claude-sonnet-4-5", Decimal(4)),
        ("m9", Decimal("0.9")),
    ]
    assert len(shaping.top(rows, "USD", "model")) == shaping.TOP_N
    assert [r["model"] for r in shaping.top(rows, "EUR", "model")] == ["gpt-4o-mini"]


def test_reconciliation_summary_shows_the_difference_and_an_unpriced_gap():
    def line(day, provider, billed, estimated, unpriced=None):
        estimate = None if estimated is None else Decimal(estimated)
        return {
            "day": day,
            "provider": provider,
            "currency": "USD",
            "billed_cost": Decimal(billed),
            "estimated_cost": estimate,
            "difference": None,
            "unpriced_models": unpriced,
        }

    rows = [
        line(D1, "openai", "1.000000001", "0.5"),
        line(D2, "openai", "2", "2.25"),
        line(D1, "anthropic", "3", None, "claude-x"),
        line(D2, "anthropic", "1", "1"),
    ]
    anthropic, openai = shaping.reconciliation(rows)
    assert (openai["billed"], openai["estimated"], openai["difference"]) == (
        Decimal("3.000000001"),
        Decimal("2.75"),
        Decimal("0.250000001"),
    )
    assert (anthropic["estimated"], anthropic["difference"], anthropic["unpriced"]) == (
        None,
        None,
        ["claude-x"],
    )


def test_a_budget_counts_its_currency_provider_and_metric_only():
    budget = parse_budget(
        {"budget_id": "bud_1", "name": "OpenAI", "provider": "OpenAI", "currency": "USD", "amount": "100"}
    )
    assert budget["metric"] == "EffectiveCost" and len(budget["thresholds"]) == 4
    month_rows = [
        {"provider": "OpenAI", "currency": "USD", "billed": Decimal(60), "effective": Decimal("45.5")},
        {"provider": "OpenAI", "currency": "EUR", "billed": Decimal(900), "effective": Decimal(900)},
        {"provider": "Slack", "currency": "USD", "billed": Decimal(900), "effective": Decimal(900)},
    ]
    month = shaping.Month.of(date(2026, 11, 10))  # 10 of 30 days
    status = shaping.budget_status(budget, month_rows, month)
    assert (status["spent"], status["percent"]) == (Decimal("45.5"), Decimal("45.5"))
    assert (status["forecast"], status["forecast_percent"]) == (Decimal("136.50"), Decimal("136.5"))
    assert status["reached"] == [{"percent": 100, "basis": "forecast"}]

    billed = shaping.budget_status({**budget, "metric": "BilledCost", "provider": None}, month_rows, month)
    assert billed["spent"] == Decimal(960)
    assert [(t["basis"], t["percent"]) for t in billed["reached"]] == [
        ("actual", 50),
        ("actual", 80),
        ("actual", 100),
        ("forecast", 100),
    ]


@pytest.mark.parametrize(
    "document",
    [
        {"budget_id": "b", "currency": "USD", "amount": "0"},
        {"budget_id": "b", "currency": "USD", "amount": "lots"},
        {"budget_id": "b", "currency": "USD"},
        {"budget_id": "b", "currency": "USD", "amount": "5", "metric": "ListCost"},
        {"budget_id": "b", "currency": None, "amount": "5"},
    ],
)
def test_a_document_that_is_no_budget_is_refused(document):
    with pytest.raises(BudgetUnreadable, match="budget 'b'"):
        parse_budget(document)


def test_the_period_defaults_to_the_last_30_days_and_refuses_bad_ranges():
    today = date(2026, 11, 30)
    assert report_period(None, None, today) == (date(2026, 10, 31), date(2026, 11, 29))
    assert report_period("2026-11-01", "2026-11-01", today) == (D1, D1)
    assert report_period(None, "2026-02-28", today) == (date(2026, 1, 30), date(2026, 2, 28))
    for start, end, message in (
        ("2026-11-31", None, "--from '2026-11-31': expected a date"),
        ("2026-11-02", "2026-11-01", "after --to"),
        ("2024-01-01", "2026-01-01", "over 366 days"),
    ):
        with pytest.raises(AdminError, match=message):
            report_period(start, end, today)


def test_a_report_for_a_malformed_org_is_refused_before_any_read(tmp_path):
    from shared.cli.report import make_report

    with pytest.raises(AdminError, match="not an org slug"):
        make_report(None, "Acme; DROP", D1, D2, tmp_path / "r.html")  # no settings: nothing is read
    assert list(tmp_path.iterdir()) == []
