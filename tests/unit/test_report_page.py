"""The cost report's page, built from given rows (no warehouse, a stub in place of the Vega bundle): a chart per
currency, exact totals, the budgets or "no budget set", the runs, and nothing the data says is read as HTML."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

from shared.reports.budgets import parse_budget
from shared.reports.build import build_report
from shared.reports.query import ReportData
from shared.reports.shaping import Month

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)
STUB = "/* vega */"


def _data(budgets=(), reconciliation=None, runs=()) -> ReportData:
    def cost(day, provider, currency, effective, model=None, service="API"):
        money = {"billed": Decimal(effective), "effective": Decimal(effective)}
        return {
            "day": day,
            "provider": provider,
            "service": service,
            "model": model,
            "currency": currency,
            **money,
        }

    costs = [
        cost(D1, "OpenAI", "USD", "1.000000001", model="gpt-4o"),
        cost(D2, "OpenAI", "USD", "2", model="gpt-4o"),
        cost(D1, "Figma", "EUR", "1.97", service="<b>Figma</b>"),
    ]
    month_costs = [{"provider": "OpenAI", "currency": "USD", "billed": Decimal(3), "effective": Decimal(3)}]
    return ReportData(
        "acme", D1, D2, costs, reconciliation, Month.of(D2), month_costs, list(budgets), [], list(runs), False
    )


def _specs(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" id="spec-([^"]+)">(.*?)</script>', html)
    return {key: json.loads(text) for key, text in found}


def _values(spec: dict) -> list[dict]:
    return spec.get("data", {}).get("values") or [
        v for layer in spec.get("layer", []) for v in layer["data"]["values"]
    ]


def test_a_chart_per_currency_and_exact_totals():
    report = build_report(
        _data(), png_prefix="report-acme", now=datetime(2026, 11, 3, tzinfo=UTC), script=STUB
    )
    specs = _specs(report.html)
    assert list(specs) == [c.key for c in report.charts]
    assert {"daily-cost-EUR", "daily-cost-USD", "top-services-EUR", "top-models-USD"} <= set(specs)
    assert "top-models-EUR" not in specs  # no EUR row names a model
    usd = _values(specs["daily-cost-USD"])
    assert {v["provider"] for v in usd} == {"OpenAI"} and sum(v["cost"] for v in usd) == 3.000000001
    assert [v["provider"] for v in _values(specs["daily-cost-EUR"])] == ["Figma"]
    totals = re.search(r'<table class="totals">.*?</table>', report.html).group(0)
    assert '<td>OpenAI</td><td>USD</td><td class="num">3.000000001</td>' in totals
    assert '<td>Figma</td><td>EUR</td><td class="num">1.97</td>' in totals
    assert 'href="report-acme-daily-cost-USD.png"' in report.html
    # Data is text, never markup: a service named in HTML shows as its characters.
    assert "&lt;b&gt;Figma&lt;/b&gt;" in report.html and "<b>Figma</b>" not in report.html.replace(
        json.dumps("<b>Figma<\\/b>")[1:-1], ""
    )
    assert "No budget set." in report.html
    assert "No LLM source has run" in report.html and "No runs in this period." in report.html


def test_budgets_reconciliation_and_runs_are_shown():
    budget = parse_budget(
        {"budget_id": "bud_1", "name": "LLM", "provider": "OpenAI", "currency": "USD", "amount": "4"}
    )
    reconciliation = [
        {
            "day": D1,
            "provider": "openai",
            "currency": "USD",
            "billed_cost": Decimal("3.000000001"),
            "estimated_cost": Decimal(3),
            "difference": Decimal("0.000000001"),
            "unpriced_models": None,
        }
    ]
    run = {
        "created_at": datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC),
        "pipeline_logging_id": "run-1",
        "pipeline_id": "openai/cost/usage_cost",
        "start_date": D1,
        "end_date": D2,
        "status": "FAILED",
        "trigger_by": "api",
        "rows_written": None,
        "slices_total": 2,
        "slices_done": 1,
        "error_code": "PROVIDER_AUTH_FAILED",
        "error_message": "key <refused>",
    }
    report = build_report(_data([budget], reconciliation, [run]), script=STUB)
    specs = _specs(report.html)
    assert [v["spent"] for v in _values(specs["budgets"]) if "spent" in v] == [75.0]
    assert '<td class="num">0.000000001</td>' in report.html  # the LLM difference, exact
    assert "75.0 %" in report.html and "50 % actual" in report.html and "No budget set." not in report.html
    assert "PROVIDER_AUTH_FAILED key &lt;refused&gt;" in report.html and "1/2" in report.html
    assert "2026-11-03 04:05:06" in report.html and "1 in all: 1 FAILED" in report.html
