"""Golden: the Anthropic golden tables → prices, estimate and focus steps (SQL in the local BigQuery) → estimated
cost equal to billed where priced, an unpriced model flagged (never 0), a reconciliation view, FOCUS rows."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

from shared.pricing import overrides
from shared.providers.registry import get_processor
from shared.tenancy import onboarding
from shared.warehouse.schemas import load_table_specs
from tests.focus_conformance import violations
from tests.kit.golden import typed_row
from tests.kit.steps import step_context

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "anthropic"
START, END = date(2025, 11, 3), date(2025, 11, 4)
STEPS = (("prices", "llm_prices"), ("estimate", "llm_cost_estimates"), ("focus", "cost_focus"))


def _org(settings, warehouse) -> str:
    slug = f"g_{uuid.uuid4().hex[:10]}"
    onboarding.create_org(settings, slug, "professional", "ACTIVE")
    specs = load_table_specs(settings.config_dir, "org")
    for table, name in (("anthropic_usage_daily", "usage"), ("anthropic_costs_daily", "costs")):
        rows = json.loads((GOLDEN / f"expected_{name}_rows.json").read_text())
        typed = [typed_row(r, specs[table]) for r in rows]
        warehouse.replace_slice(settings.org_dataset(slug), specs[table], typed, START, END)
    return slug


def _run_steps(settings, warehouse, slug) -> dict[str, int]:
    written = {}
    for step, table in STEPS:
        ctx = step_context(
            "anthropic",
            START,
            END,
            "sk-ant-x",
            settings=settings,
            org_slug=slug,
            run_id=f"run_{step}",
            seconds=60,
            destination_table=table,
        )
        written[step] = get_processor(f"anthropic.{step}").run(ctx, warehouse)
    return written


def _rows(warehouse, settings, slug, table, where="TRUE") -> list[dict]:
    ds = f"{settings.project}.{settings.org_dataset(slug)}"
    return warehouse.query(f"SELECT * FROM `{ds}.{table}` WHERE {where}")


def test_estimates_equal_billed_where_priced_and_the_unpriced_model_shows_as_the_gap(
    settings, warehouse, capsys
):
    slug = _org(settings, warehouse)
    written = _run_steps(settings, warehouse, slug)
    # The estimate's own job names the model the price table lacks (logged once, a WARNING).
    warnings = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "price table" in line]
    assert [w["unpriced_models"] for w in warnings] == [["claude-imaginary-9"]]
    estimates = _rows(warehouse, settings, slug, "llm_cost_estimates")
    assert written["estimate"] == len(estimates)
    by_status = {}
    for row in estimates:
        by_status.setdefault(row["status"], []).append(row)
    assert set(by_status) == {"priced", "unpriced", "billed_only"}
    # Consistent fixture: every priced line (both cache TTLs, batch, long context, web search) to the last digit.
    priced = by_status["priced"]
    assert len(priced) == 13 and all(
        r["estimated_cost"] == r["billed_cost"] == r["list_cost"] for r in priced
    )
    assert {r["token_type"] for r in priced} >= {
        "cache_creation.ephemeral_5m_input_tokens",
        "cache_creation.ephemeral_1h_input_tokens",
        "web_search",
    }
    long_context = next(
        r for r in priced if r["context_window"] == "200k-1M" and r["token_type"] == "output_tokens"
    )
    assert long_context["list_rate_per_million"] == Decimal("22.5")
    # The unpriced model: not zero, not dropped; its billed cost is kept and its estimate is NULL.
    unpriced = by_status["unpriced"]
    assert {r["model"] for r in unpriced} == {"claude-imaginary-9"}
    assert all(r["estimated_cost"] is None and r["billed_cost"] > 0 and r["quantity"] > 0 for r in unpriced)
    assert [r["token_type"] for r in by_status["billed_only"]] == ["code_execution"]

    view = {r["day"]: r for r in _rows(warehouse, settings, slug, "llm_cost_reconciliation")}
    assert view[START]["difference"] == 0 and view[START]["billed_cost"] == Decimal("3.326098")
    assert view[END]["unpriced_models"] == "claude-imaginary-9"
    assert view[END]["billed_unpriced"] == Decimal("0.515") and view[END]["billed_without_usage"] == Decimal(
        "0.05"
    )
    assert view[END]["difference"] == Decimal("0.565")  # = the unpriced model + code execution, nothing else
    assert {r["provider"] for r in view.values()} == {"anthropic"} and {
        r["org_slug"] for r in view.values()
    } == {slug}

    focus = _rows(warehouse, settings, slug, "cost_focus", "ProviderName = 'Anthropic'")
    assert len(focus) == 16 and sum(r["BilledCost"] for r in focus) == Decimal("3.891164")
    # Known gap (as OpenAI's): code execution has no usage quantity; it is the only row breaking a rule.
    assert violations(focus) == {
        "PricingQuantity must not be null for Usage/Purchase that is not a Correction": 1,
        "ConsumedQuantity must not be null for Usage that is not a Correction": 1,
    }
    assert all(
        r["ListCost"] == r["BilledCost"] for r in focus
    )  # priced at list price, or the billed fallback
    default = [r for r in focus if r["SubAccountId"] == "default"]
    assert default and {r["SubAccountName"] for r in default} == {"Default workspace"}
    search = next(r for r in focus if r["x_cost_type"] == "web_search")
    assert (search["PricingQuantity"], search["PricingUnit"]) == (Decimal(12), "Requests")

    # A rerun replaces every slice: the same rows, no copies.
    again = _run_steps(settings, warehouse, slug)
    assert again == written
    strip = lambda rows: sorted(
        json.dumps({k: v for k, v in r.items() if k not in ("x_ingested_at",)}, default=str) for r in rows
    )
    assert strip(_rows(warehouse, settings, slug, "llm_cost_estimates")) == strip(estimates)


def test_an_org_override_discounts_the_estimate_not_the_list_price(settings, warehouse):
    slug = _org(settings, warehouse)
    overrides.add_price_override(
        settings,
        slug,
        "anthropic",
        date(2025, 11, 1),
        discount_fraction="0.10",
        model="claude-sonnet-4-5-20250929",
        note="golden contract",
    )
    overrides.add_price_override(  # more specific (model + rate): an absolute negotiated rate beats the discount
        settings,
        slug,
        "anthropic",
        date(2025, 11, 1),
        usd_per_million="2.00",
        model="claude-sonnet-4-5-20250929",
        rate_type="input",
    )
    _run_steps(settings, warehouse, slug)
    sonnet = _rows(warehouse, settings, slug, "llm_cost_estimates", "model = 'claude-sonnet-4-5-20250929'")
    for row in sonnet:
        assert row["list_cost"] == row["billed_cost"] and row["override_id"]
        if row["token_type"] == "uncached_input_tokens":  # every context window: the override names none
            assert row["contracted_rate_per_million"] == Decimal(2)
        else:
            assert row["estimated_cost"] == (row["list_cost"] * Decimal("0.9")).quantize(Decimal("1e-9"))
    haiku = _rows(warehouse, settings, slug, "llm_cost_estimates", "model = 'claude-haiku-4-5-20251001'")
    assert haiku and all(r["estimated_cost"] == r["billed_cost"] and r["override_id"] is None for r in haiku)
    focus = _rows(warehouse, settings, slug, "cost_focus", "x_model = 'claude-sonnet-4-5-20250929'")
    assert all(r["ContractedCost"] < r["ListCost"] == r["BilledCost"] for r in focus if r["BilledCost"] > 0)
