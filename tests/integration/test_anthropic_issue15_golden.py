"""Golden, issue 15 (Anthropic): one day of the Admin API's documented shapes (usage report, cost report, Workspaces
API) through the whole pipeline (extract, transform, prices, estimate, FOCUS in the local BigQuery).

Defect 5: Claude Sonnet 4 over 200k input tokens is billed at its long-context rates, and the estimate must use
them; US-only inference is priced at its own rates; a tier or inference geo the price table has no rate for is
reported unpriced by name, never priced at standard. Defect 6 (Anthropic rows): SubAccountName is the workspace's
name, units are FOCUS UnitFormat, quantities are on every usage row, ChargeFrequency is set.

The day, by hand (rates from the pricing page, USD per 1M tokens; the cost report's amounts are cents):
- workspace wrkspc_01B ("Platform"), claude-sonnet-4-20250514, standard, context 200k-1M (long context):
    input      400,000 x $6.00  = $2.40  ("240" cents)   -- at the base $3.00 it would be $1.20
    output      20,000 x $22.50 = $0.45  ("45")          -- base $15.00: $0.30
    cache read 100,000 x $0.60  = $0.06  ("6")           -- base $0.30: $0.03
  billed $2.91; estimated $2.91 (before the fix: $1.53, a $1.38 gap).
- default workspace (null id), claude-sonnet-4-6, standard, inference_geo "us" (US-only inference, 1.1x):
    input 1,000,000 x $3.30 = $3.30 ("330"); estimated $3.30 (at the list $3.00 it would be $3.00).
- wrkspc_01B, claude-opus-4-6, standard, inference_geo "us": input 200,000 x $5.50 = $1.10 ("110"); estimated $1.10.
  With a price table lacking Opus 4.6's US rates (the test deletes them from the org's llm_prices): unpriced, named
  "claude-opus-4-6 (inference_geo us)", its $1.10 the day's whole difference (not $0.10, had it been priced at the
  standard $5.00).
- wrkspc_01B, claude-sonnet-4-5-20250929, service_tier "priority", 50,000 input tokens: Priority Tier is billed by
  the capacity commitment (no list price, no cost report line): unpriced, "claude-sonnet-4-5-20250929
  (service_tier priority)", nothing billed.
Reconciliation: billed 2.91 + 3.30 + 1.10 = $7.31; estimated $7.31 (difference 0) with the shipped table, $6.21
(difference $1.10) without Opus 4.6's US rates.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx

from shared.providers.registry import get_processor
from shared.tenancy import onboarding
from shared.warehouse.schemas import load_table_specs
from tests.kit.steps import step_context

DAY = date(2026, 3, 2)
BUCKET = {"starting_at": "2026-03-02T00:00:00Z", "ending_at": "2026-03-03T00:00:00Z"}
SONNET_4, SONNET_45, SONNET_46 = "claude-sonnet-4-20250514", "claude-sonnet-4-5-20250929", "claude-sonnet-4-6"
OPUS_46 = "claude-opus-4-6"


def _usage(workspace, model, tier, window, geo, uncached, output=0, cache_read=0) -> dict:
    return {
        "uncached_input_tokens": uncached,
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        "cache_read_input_tokens": cache_read,
        "output_tokens": output,
        "server_tool_use": {"web_search_requests": 0},
        "api_key_id": "apikey_01X",
        "workspace_id": workspace,
        "model": model,
        "service_tier": tier,
        "context_window": window,
        "inference_geo": geo,
    }


def _cost(workspace, description, model, token_type, geo, cents, window="200k-1M") -> dict:
    return {
        "currency": "USD",
        "amount": cents,
        "workspace_id": workspace,
        "description": description,
        "cost_type": "tokens",
        "context_window": window,
        "model": model,
        "service_tier": "standard",
        "token_type": token_type,
        "inference_geo": geo,
    }


PAGES = {
    "/v1/organizations/usage_report/messages": [
        _usage("wrkspc_01B", SONNET_4, "standard", "200k-1M", "not_available", 400_000, 20_000, 100_000),
        _usage(None, SONNET_46, "standard", "0-200k", "us", 1_000_000),
        _usage("wrkspc_01B", SONNET_45, "priority", "0-200k", "not_available", 50_000),
        _usage("wrkspc_01B", OPUS_46, "standard", "0-200k", "us", 200_000),
    ],
    "/v1/organizations/cost_report": [
        _cost(
            "wrkspc_01B",
            "Claude Sonnet 4 Usage - Input Tokens (Long Context)",
            SONNET_4,
            "uncached_input_tokens",
            "not_available",
            "240",
        ),
        _cost(
            "wrkspc_01B",
            "Claude Sonnet 4 Usage - Output Tokens (Long Context)",
            SONNET_4,
            "output_tokens",
            "not_available",
            "45",
        ),
        _cost(
            "wrkspc_01B",
            "Claude Sonnet 4 Usage - Cache Read (Long Context)",
            SONNET_4,
            "cache_read_input_tokens",
            "not_available",
            "6",
        ),
        _cost(
            None,
            "Claude Sonnet 4.6 Usage - Input Tokens",
            SONNET_46,
            "uncached_input_tokens",
            "us",
            "330",
            "0-200k",
        ),
        _cost(
            "wrkspc_01B",
            "Claude Opus 4.6 Usage - Input Tokens",
            OPUS_46,
            "uncached_input_tokens",
            "us",
            "110",
            "0-200k",
        ),
    ],
}
WORKSPACES = {
    "data": [
        {
            "type": "workspace",
            "id": "wrkspc_01B",
            "name": "Platform",
            "created_at": "2025-06-01T10:00:00Z",
            "archived_at": None,
            "display_color": "#6C5BB9",
        }
    ],
    "has_more": False,
    "first_id": "wrkspc_01B",
    "last_id": "wrkspc_01B",
}


def _api(request: httpx.Request) -> httpx.Response:
    """The three documented endpoints, one page each."""
    path = request.url.path
    if path.endswith("/workspaces"):
        return httpx.Response(200, json=WORKSPACES)
    results = next(results for suffix, results in PAGES.items() if path.endswith(suffix))
    return httpx.Response(
        200, json={"data": [{**BUCKET, "results": results}], "has_more": False, "next_page": None}
    )


def _ctx(settings, slug, step, table, transport=None):
    return step_context(
        "anthropic",
        DAY,
        DAY,
        "sk-ant-admin01-issue15",
        settings=settings,
        org_slug=slug,
        run_id=f"run_{step}",
        seconds=60,
        destination_table=table,
        transport=transport,
    )


def _pipeline(settings, warehouse, before_estimate: str = "") -> str:
    """A new org with the day run through every step: extract + transform + load, then the SQL steps;
    `before_estimate` is a statement run on the org's dataset (`{ds}`) after the prices step."""
    slug = f"i15_{uuid.uuid4().hex[:10]}"
    onboarding.create_org(settings, slug, "professional", "ACTIVE")
    specs = load_table_specs(settings.config_dir, "org")
    ds = f"{settings.project}.{settings.org_dataset(slug)}"
    for ps_type, table in (
        ("anthropic.usage_messages", "anthropic_usage_daily"),
        ("anthropic.cost_report", "anthropic_costs_daily"),
    ):
        processor = get_processor(ps_type)
        ctx = _ctx(settings, slug, ps_type, table, httpx.MockTransport(_api))
        rows = processor.transform(processor.extract(ctx), ctx, ingested_at=datetime(2026, 3, 3, tzinfo=UTC))
        warehouse.replace_slice(settings.org_dataset(slug), specs[table], rows, DAY, DAY)
    for step, table in (
        ("prices", "llm_prices"),
        ("estimate", "llm_cost_estimates"),
        ("focus", "cost_focus"),
    ):
        get_processor(f"anthropic.{step}").run(_ctx(settings, slug, step, table), warehouse)
        if step == "prices" and before_estimate:
            warehouse.execute(before_estimate.format(ds=ds))
    return slug


def _rows(warehouse, settings, slug, table, where="TRUE") -> list[dict]:
    ds = f"{settings.project}.{settings.org_dataset(slug)}"
    return warehouse.query(f"SELECT * FROM `{ds}.{table}` WHERE {where}")


def test_sonnet_4_long_context_is_estimated_at_its_long_context_rates(settings, warehouse):
    slug = _pipeline(settings, warehouse)
    lines = _rows(warehouse, settings, slug, "llm_cost_estimates", f"model = '{SONNET_4}'")
    rates = {
        r["token_type"]: (r["list_rate_per_million"], r["estimated_cost"], r["billed_cost"]) for r in lines
    }
    assert rates == {
        "uncached_input_tokens": (Decimal(6), Decimal("2.40"), Decimal("2.40")),
        "output_tokens": (Decimal("22.5"), Decimal("0.45"), Decimal("0.45")),
        "cache_read_input_tokens": (Decimal("0.6"), Decimal("0.06"), Decimal("0.06")),
    }
    assert {r["status"] for r in lines} == {"priced"} and {r["context_window"] for r in lines} == {"200k-1M"}


def test_us_only_inference_is_priced_at_its_own_rates(settings, warehouse):
    slug = _pipeline(settings, warehouse)
    us = {
        r["model"]: r
        for r in _rows(warehouse, settings, slug, "llm_cost_estimates", "model LIKE '%(inference_geo us)'")
    }
    assert {
        m: (r["list_rate_per_million"], r["estimated_cost"], r["billed_cost"]) for m, r in us.items()
    } == {
        f"{SONNET_46} (inference_geo us)": (Decimal("3.3"), Decimal("3.30"), Decimal("3.30")),
        f"{OPUS_46} (inference_geo us)": (Decimal("5.5"), Decimal("1.10"), Decimal("1.10")),
    }
    (view,) = _rows(warehouse, settings, slug, "llm_cost_reconciliation")
    assert (view["billed_cost"], view["difference"]) == (Decimal("7.31"), 0)
    assert view["unpriced_models"] == f"{SONNET_45} (service_tier priority)"  # no list price: by name


def test_a_tier_or_geo_without_a_list_price_is_unpriced_by_name(settings, warehouse, capsys):
    # A price table that has Opus 4.6 at the standard geo only (as it was before its US rates were added).
    no_us = f"DELETE FROM `{{ds}}.llm_prices` WHERE model = '{OPUS_46} (inference_geo us)'"
    slug = _pipeline(settings, warehouse, before_estimate=no_us)
    warnings = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "price table" in line]
    named = [f"{OPUS_46} (inference_geo us)", f"{SONNET_45} (service_tier priority)"]
    assert [w["unpriced_models"] for w in warnings] == [named]
    unpriced = {
        r["model"]: r for r in _rows(warehouse, settings, slug, "llm_cost_estimates", "status = 'unpriced'")
    }
    assert set(unpriced) == set(named)
    us = unpriced[f"{OPUS_46} (inference_geo us)"]
    assert (us["quantity"], us["estimated_cost"], us["billed_cost"]) == (200_000, None, Decimal("1.10"))
    priority = unpriced[f"{SONNET_45} (service_tier priority)"]
    assert (priority["quantity"], priority["service_tier"], priority["billed_cost"]) == (
        50_000,
        "priority",
        None,
    )
    (view,) = _rows(warehouse, settings, slug, "llm_cost_reconciliation")
    assert (view["billed_cost"], view["estimated_cost"], view["difference"]) == (
        Decimal("7.31"),
        Decimal("6.21"),
        Decimal("1.10"),  # exactly the US-only Opus line: nothing priced at the standard rate
    )
    assert view["unpriced_models"] == ", ".join(named)


def test_focus_rows_name_the_workspace_and_carry_units_and_quantities(settings, warehouse):
    slug = _pipeline(settings, warehouse)
    focus = _rows(warehouse, settings, slug, "cost_focus", "ProviderName = 'Anthropic'")
    assert len(focus) == 5 and sum(r["BilledCost"] for r in focus) == Decimal("7.31")
    names = {(r["SubAccountId"], r["SubAccountName"]) for r in focus}
    assert names == {("wrkspc_01B", "Platform"), ("default", "Default workspace")}
    assert {(r["PricingUnit"], r["ConsumedUnit"], r["ChargeFrequency"]) for r in focus} == {
        ("Tokens", "Tokens", "Usage-Based")
    }
    quantities = sorted((r["x_token_type"], r["ConsumedQuantity"], r["PricingQuantity"]) for r in focus)
    assert quantities == [
        ("cache_read_input_tokens", 100_000, 100_000),
        ("output_tokens", 20_000, 20_000),
        ("uncached_input_tokens", 200_000, 200_000),
        ("uncached_input_tokens", 400_000, 400_000),
        ("uncached_input_tokens", 1_000_000, 1_000_000),
    ]
    long_input = next(
        r for r in focus if r["x_model"] == SONNET_4 and r["x_token_type"] == "uncached_input_tokens"
    )
    assert (
        long_input["ListCost"] == long_input["ContractedCost"] == long_input["BilledCost"] == Decimal("2.40")
    )
