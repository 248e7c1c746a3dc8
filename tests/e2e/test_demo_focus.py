"""The demo org's week as `make demo` runs it (every provider's demo pipelines over HTTP): the FinOps Foundation's
FOCUS validator over each provider's cost_focus rows (no FOCUS 1.2 rule fails), and the LLM bill against its
estimate per provider, tier and token type (no difference: the sandboxes bill at list prices); and the week's cost
report (`dps report`) opened in a real browser with no network: it asks for nothing, every chart draws its marks, and
its totals are cost_focus's own sums, exact (skipped where no system Chromium is installed; CI installs one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from devstack.demo import run_in_order
from devstack.demo_org import onboard_demo_org
from devstack.providers import LOCAL_PROVIDERS
from shared.providers.registry import PROVIDERS
from shared.providers.saas.steps import RAW_TABLE as SAAS_TABLE
from shared.warehouse.schemas import load_table_specs
from tests.kit.focus_validator import arrow_table, validate_each
from tests.providers.saas import CASE as SAAS_CASE


@pytest.fixture(scope="module")
def demo_week(stack, settings, warehouse):
    """The demo org after its week: the FOCUS rows per ProviderName."""
    # On a plan without a concurrency limit: every pipeline at once (the demo's own plan runs two at a time).
    org = onboard_demo_org(stack, "focusdemo", plan="enterprise")
    end = datetime.now(UTC).date() - timedelta(days=1)
    dates = ((end - timedelta(days=6)).isoformat(), end.isoformat())
    pipelines = [pipeline for local in LOCAL_PROVIDERS.values() for pipeline in local.demo_pipelines]
    runs = run_in_order(stack.api_url, org["slug"], org["api_key"], dates, pipelines, len(pipelines))
    assert [run["status"] for run in runs] == ["COMPLETED"] * len(pipelines), runs
    return org["slug"]


def _query(warehouse, settings, slug: str, table: str) -> list[dict]:
    return warehouse.query(f"SELECT * FROM `{warehouse.table_id(settings.org_dataset(slug), table)}`")


def _source(row: dict) -> str:
    """The provider a row came from: its ProviderName, or "SaaS" for the plans' rows (each names its vendor)."""
    return "SaaS" if row["x_source_table"] == SAAS_TABLE else row["ProviderName"]


def test_every_providers_demo_rows_fail_no_focus_rule(demo_week, settings, warehouse):
    by_provider: dict[str, list[dict]] = {}
    for row in _query(warehouse, settings, demo_week, "cost_focus"):
        by_provider.setdefault(_source(row), []).append(row)
    spec = load_table_specs(settings.config_dir, "org")["cost_focus"]
    assert set(by_provider) == {PROVIDERS[name].focus.provider_name for name in LOCAL_PROVIDERS}
    assert {r["ProviderName"] for r in by_provider["SaaS"]} == {"Slack", "Atlassian", "Figma"}
    # One file per provider: each provider's FOCUS data is what its own invoice export would hold.
    reports = validate_each({name: (arrow_table(rows, spec), name) for name, rows in by_provider.items()})
    summaries = {name: report.summary() for name, report in reports.items()}
    print(summaries)
    # Besides the rule the SaaS case explains (EffectiveCost on a seat purchase: tests/providers/saas).
    known = {"SaaS": set(SAAS_CASE.validator_false_positives)}
    assert {name: set(report.real_failures()) for name, report in reports.items()} == {
        name: known.get(name, set()) for name in reports
    }
    assert all(report.passed >= 100 for report in reports.values()), summaries


def test_the_bill_meets_its_estimate_on_every_tier_and_token_type(demo_week, settings, warehouse):
    detail = _query(warehouse, settings, demo_week, "llm_cost_reconciliation_detail")
    daily = _query(warehouse, settings, demo_week, "llm_cost_reconciliation")
    assert {r["provider"] for r in detail} == {"openai", "anthropic"}
    assert [r for r in detail if r["difference"] != 0] == []
    # Unpriced only where nothing is billed (Anthropic's Priority Tier: capacity bought apart, no cost line), and
    # named by tier: never folded into another tier's price.
    unpriced = [r for r in detail if r["lines_unpriced"]]
    assert {(r["provider"], r["service_tier"], r["billed_cost"]) for r in unpriced} == {
        ("anthropic", "priority", 0)
    }
    assert all("(service_tier priority)" in r["unpriced_models"] for r in unpriced)
    # The sandboxes bill every tier and token type the issue names: each is on the bill and meets its estimate.
    billed = {(r["provider"], r["service_tier"], r["token_type"]) for r in detail if r["billed_cost"] > 0}
    assert {("openai", tier) for tier in ("standard", "batch", "flex", "priority")} <= {
        (p, t) for p, t, _ in billed
    }
    assert {("anthropic", "standard"), ("anthropic", "batch")} <= {(p, t) for p, t, _ in billed}
    assert {
        ("openai", "standard", "audio input"),
        ("openai", "standard", "image input"),
        ("openai", "priority", "cache writes"),
        ("anthropic", "standard", "cache_creation.ephemeral_1h_input_tokens"),
        ("anthropic", None, "web_search"),
    } <= billed
    # The detail's lines add up to the bill as cost_focus has it, provider by provider.
    for provider in ("openai", "anthropic"):
        lines = sum(r["billed_cost"] for r in detail if r["provider"] == provider)
        assert lines == sum(r["billed_cost"] for r in daily if r["provider"] == provider) > 0


BUDGET = {
    "budget_id": "bud_demo",
    "name": "LLM",
    "provider": "OpenAI",
    "currency": "USD",
    "amount": "1.00",
    "version": 1,
}


@pytest.fixture(scope="module")
def demo_report(demo_week, stack, settings, tmp_path_factory):
    """The demo week's report (a budget set first), written by `dps report`: its page, period and exit codes."""
    from shared.cli.main import main
    from shared.cli.report import report_period
    from shared.runs.control import control_db

    budgets = control_db(settings).collection("orgs").document(demo_week).collection("budgets")
    budgets.document(BUDGET["budget_id"]).set(BUDGET)
    start, end = report_period(None, None, datetime.now(UTC).date())
    page = tmp_path_factory.mktemp("report") / "week.html"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in stack.env().items():
            patch.setenv(name, value)
        arguments = ["--from", start.isoformat(), "--to", end.isoformat(), "--out"]
        code = main(["report", demo_week, *arguments, str(page)])
        refused = main(["report", "t_nosuchorg0", *arguments, str(page.with_name("none.html"))])
    return {"page": page, "start": start, "end": end, "codes": (code, refused)}


def _focus_totals(warehouse, settings, slug: str, start, end) -> dict:
    table = warehouse.table_id(settings.org_dataset(slug), "cost_focus")
    rows = warehouse.query(
        f"SELECT ProviderName AS p, BillingCurrency AS c, SUM(BilledCost) AS b, SUM(EffectiveCost) AS e "
        f"FROM `{table}` WHERE ChargePeriodStart >= TIMESTAMP(@start) "
        "AND ChargePeriodStart < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY)) GROUP BY p, c",
        {"start": start, "end": end},
    )
    return {(r["p"], r["c"]): (r["b"], r["e"]) for r in rows}


def test_the_weeks_cost_report_opens_offline_with_exact_totals(demo_report, demo_week, settings, warehouse):
    from tests.kit.browser import network_requests, open_report_offline, system_chromium

    page = demo_report["page"]
    assert demo_report["codes"] == (0, 2) and not page.with_name("none.html").exists()  # no such org: nothing
    pngs = {path.stem.removeprefix("week-") for path in page.parent.glob("week-*.png")}
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in page.parent.glob("*.png"))
    expected = _focus_totals(warehouse, settings, demo_week, demo_report["start"], demo_report["end"])
    currencies = {currency for _, currency in expected}
    assert len(currencies) > 1  # the demo bills in more than one currency: each gets its own chart
    assert {f"daily-cost-{c}" for c in currencies} | {
        "top-models-USD",
        "llm-billed-vs-estimated-USD",
        "budgets",
    } <= pngs
    chromium = system_chromium()
    if chromium is None:
        pytest.skip("no system Chromium to open the report: apt-get install chromium chromium-driver")

    shown = open_report_offline(page, *chromium)
    assert shown["asked"] == [page.as_uri()] and network_requests(shown["asked"]) == []
    assert {key for key, _, _ in shown["charts"]} == pngs  # a PNG per chart on the page
    assert all(state == "yes" and marks > 0 for _, state, marks in shown["charts"]), shown["charts"]
    totals = {(p, c): (Decimal(b), Decimal(e)) for p, c, b, e in shown["totals"]}
    assert totals == expected  # exact: every digit of each NUMERIC sum, per provider and currency
    # The budget (1.00 USD of OpenAI) is passed on every threshold; the week's runs are listed.
    assert "No budget set." not in shown["text"] and "100 % actual, 100 % forecast" in shown["text"]
    pipelines = [pipeline for local in LOCAL_PROVIDERS.values() for pipeline in local.demo_pipelines]
    assert all(pipeline in shown["text"] for pipeline in pipelines)
