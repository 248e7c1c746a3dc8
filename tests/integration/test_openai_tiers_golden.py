"""Golden (issue 15): OpenAI usage and cost results in the documented shape → transform → prices, estimate and focus
(SQL in the local BigQuery). Defect 1: batch, flex and priority usage priced at their own tier's rates and meeting
the bill's tiered line items. Defect 2: the usage object's token split (cache writes, cached and uncached audio and
image) priced once each. Defect 6: FOCUS rows name the project, and every Usage row has a quantity in a FOCUS unit.

Every amount is worked out by hand below: tokens × USD per 1M (configs/prices/llm_prices.yml) / 1,000,000."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shared.providers.registry import get_processor
from shared.tenancy import onboarding
from shared.warehouse.schemas import load_table_specs
from tests.kit.steps import step_context

DAY = date(2026, 11, 2)
START_TIME = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp())
STEPS = (("prices", "llm_prices"), ("estimate", "llm_cost_estimates"), ("focus", "cost_focus"))


def _usage(model: str, batch: bool, tier: str, **counts) -> dict:
    """A completions usage result grouped by project, model, batch and service tier (UsageCompletionsResult)."""
    return {
        "object": "organization.usage.completions.result",
        "project_id": "proj_tiers",
        "user_id": None,
        "api_key_id": None,
        "model": model,
        "batch": batch,
        "service_tier": tier,
        "num_model_requests": 10,
        **counts,
    }


# Defect 1: one model (o3) in three tiers and gpt-4o at priority. Before the fix the request did not group by batch
# or service_tier, so the API summed them (o3: 3,600,000 input at $2.00 = $7.20 against a bill of $4.60).
TIER_USAGE = [
    _usage(
        "o3-2025-04-16",
        False,
        "default",
        input_tokens=1_000_000,
        input_cached_tokens=0,
        output_tokens=100_000,
    ),
    _usage(
        "o3-2025-04-16", True, "default", input_tokens=2_000_000, input_cached_tokens=0, output_tokens=200_000
    ),
    _usage(
        "o3-2025-04-16",
        False,
        "flex",
        input_tokens=1_000_000,
        input_cached_tokens=400_000,
        output_tokens=100_000,
    ),
    _usage("gpt-4o-2024-08-06", False, "priority", input_tokens=1_000_000, output_tokens=50_000),
]
TIER_BILL = {
    "o3-2025-04-16, input": ("2.00", 1_000_000),  # 1,000,000 × 2.00 standard
    "o3-2025-04-16, output": ("0.80", 100_000),  # 100,000 × 8.00
    "o3-2025-04-16, input, batch": ("2.00", 2_000_000),  # 2,000,000 × 1.00 batch (half)
    "o3-2025-04-16, output, batch": ("0.80", 200_000),  # 200,000 × 4.00
    "o3-2025-04-16, input, flex": ("0.60", 600_000),  # (1,000,000 - 400,000 cached) × 1.00 flex
    "o3-2025-04-16, cached input, flex": ("0.10", 400_000),  # 400,000 × 0.25
    "o3-2025-04-16, output, flex": ("0.40", 100_000),  # 100,000 × 4.00
    "gpt-4o-2024-08-06, input, priority": ("4.25", 1_000_000),  # 1,000,000 × 4.25 priority
    "gpt-4o-2024-08-06, output, priority": ("0.85", 50_000),  # 50,000 × 17.00
}
# Defect 2, in the usage object's current shape (the API reference's example, input 5,000 = cached 1,800 + uncached
# 3,200; uncached = text 2,500 + audio 500 + image 200; output 1,000 = text 800 + audio 200). Before the fix
# "input" was priced on input - cached = 3,200 (audio and image again as text) and "output" on all 1,000.
MEDIA_USAGE = [
    _usage(
        "gpt-realtime-2025-08-28",
        False,
        "default",
        input_tokens=5000,
        input_cached_tokens=1800,
        input_cache_write_tokens=0,
        input_uncached_tokens=3200,
        input_text_tokens=2500,
        input_cached_text_tokens=1500,
        input_audio_tokens=500,
        input_cached_audio_tokens=100,
        input_image_tokens=200,
        input_cached_image_tokens=200,
        output_tokens=1000,
        output_text_tokens=800,
        output_audio_tokens=200,
        output_image_tokens=0,
    ),
    # An older response: no uncached or text split, so they are derived: uncached = 1,000,000 - 300,000 cached
    # - 200,000 cache writes = 500,000 text. Before the fix the cache writes were priced as input.
    _usage(
        "gpt-5.6-terra",
        False,
        "default",
        input_tokens=1_000_000,
        input_cached_tokens=300_000,
        input_cache_write_tokens=200_000,
        output_tokens=100_000,
    ),
    _usage(
        "gpt-image-1",
        False,
        "default",
        input_tokens=3000,
        input_text_tokens=1000,
        input_image_tokens=2000,
        output_tokens=4160,
        output_image_tokens=4160,
    ),
]
MEDIA_BILL = {
    "gpt-realtime-2025-08-28 text, input": ("0.01", 2500),  # 2,500 × 4.00
    "gpt-realtime-2025-08-28 text, cached input": ("0.0006", 1500),  # 1,500 × 0.40
    "gpt-realtime-2025-08-28 audio, input": ("0.016", 500),  # 500 × 32.00
    "gpt-realtime-2025-08-28 audio, cached input": ("0.00004", 100),  # 100 × 0.40
    "gpt-realtime-2025-08-28 image, input": ("0.001", 200),  # 200 × 5.00
    "gpt-realtime-2025-08-28 image, cached input": ("0.0001", 200),  # 200 × 0.50
    "gpt-realtime-2025-08-28 text, output": ("0.0128", 800),  # 800 × 16.00
    "gpt-realtime-2025-08-28 audio, output": ("0.0128", 200),  # 200 × 64.00
    "gpt-5.6-terra, input": ("1.00", 500_000),  # 500,000 × 2.00
    "gpt-5.6-terra, cached input": ("0.06", 300_000),  # 300,000 × 0.20
    "gpt-5.6-terra, cache writes": ("0.50", 200_000),  # 200,000 × 2.50
    "gpt-5.6-terra, output": ("1.20", 100_000),  # 100,000 × 12.00
    "gpt-image-1 text, input": ("0.005", 1000),  # 1,000 × 5.00
    "gpt-image-1 image, input": ("0.02", 2000),  # 2,000 × 10.00
    "gpt-image-1 image, output": ("0.1664", 4160),  # 4,160 × 40.00
}


def _cost(line_item: str | None, value: str, quantity, unit: str | None = "tokens", **extra) -> dict:
    """A cost result grouped by project and line item, with the project's name (CostsResult)."""
    return {
        "object": "organization.costs.result",
        "amount": {"value": Decimal(value), "currency": "usd"},
        "line_item": line_item,
        "project_id": "proj_tiers",
        "project_name": "Tiers lab",
        "quantity": quantity,
        "quantity_unit": unit,
        **extra,
    }


# Defect 6: a line the usage cannot measure (whisper: seconds), a line of another project without a name, and a
# remainder without line item or quantity (not usage: an adjustment).
OTHER_BILL = [
    _cost("whisper", "0.012", 120, "duration_seconds"),  # 120 s of transcription
    _cost("fine-tuning training", "3.00", 1_000_000, project_id="proj_unnamed", project_name=None),
    _cost(None, "0.000000001", None, None, project_id=None, project_name=None),
]


def _bucket(results: list[dict]) -> dict:
    return {"object": "bucket", "start_time": START_TIME, "end_time": START_TIME + 86_400, "results": results}


def _load(settings, warehouse) -> str:
    slug = f"g_{uuid.uuid4().hex[:10]}"
    onboarding.create_org(settings, slug, "professional", "ACTIVE")
    specs = load_table_specs(settings.config_dir, "org")
    bill = [_cost(item, value, quantity) for item, (value, quantity) in {**TIER_BILL, **MEDIA_BILL}.items()]
    for ps_type, table, results in (
        ("openai.usage_completions", "openai_usage_daily", TIER_USAGE + MEDIA_USAGE),
        ("openai.costs", "openai_costs_daily", bill + OTHER_BILL),
    ):
        ctx = step_context("openai", DAY, DAY, "sk-x", settings=settings, org_slug=slug)
        rows = get_processor(ps_type).transform([_bucket(results)], ctx)
        warehouse.replace_slice(settings.org_dataset(slug), specs[table], rows, DAY, DAY)
    for step, table in STEPS:
        ctx = step_context(
            "openai", DAY, DAY, "sk-x", settings=settings, org_slug=slug, seconds=60, destination_table=table
        )
        get_processor(f"openai.{step}").run(ctx, warehouse)
    return slug


def _rows(warehouse, settings, slug, table: str) -> list[dict]:
    return warehouse.query(f"SELECT * FROM `{settings.project}.{settings.org_dataset(slug)}.{table}`")


@pytest.fixture(scope="module")
def org(settings, warehouse) -> str:
    """One org holding the whole case, run through prices, estimate and focus once."""
    return _load(settings, warehouse)


def _estimates(warehouse, settings, org, models: set[str]) -> dict[tuple, dict]:
    rows = _rows(warehouse, settings, org, "llm_cost_estimates")
    return {(r["model"], r["service_tier"], r["token_type"]): r for r in rows if r["model"] in models}


def _assert_priced_exactly(estimates: dict[tuple, dict], expected: dict[tuple, str]) -> None:
    """Every line priced, at the hand-worked amount, equal to its bill line to the last decimal (difference 0)."""
    assert {key: row["status"] for key, row in estimates.items()} == dict.fromkeys(expected, "priced")
    assert {key: row["estimated_cost"] for key, row in estimates.items()} == {
        key: Decimal(value) for key, value in expected.items()
    }
    assert all(row["estimated_cost"] == row["billed_cost"] == row["list_cost"] for row in estimates.values())


def test_defect_1_each_tier_is_estimated_at_its_rates_and_meets_its_bill_line(settings, warehouse, org):
    estimates = _estimates(warehouse, settings, org, {"o3-2025-04-16", "gpt-4o-2024-08-06"})
    _assert_priced_exactly(
        estimates,
        {
            ("o3-2025-04-16", "standard", "input"): "2.00",
            ("o3-2025-04-16", "standard", "output"): "0.80",
            ("o3-2025-04-16", "batch", "input"): "2.00",
            ("o3-2025-04-16", "batch", "output"): "0.80",
            ("o3-2025-04-16", "flex", "input"): "0.60",
            ("o3-2025-04-16", "flex", "cached input"): "0.10",
            ("o3-2025-04-16", "flex", "output"): "0.40",
            ("gpt-4o-2024-08-06", "priority", "input"): "4.25",
            ("gpt-4o-2024-08-06", "priority", "output"): "0.85",
        },
    )  # 11.80 billed, 11.80 estimated


def test_defect_2_each_kind_of_token_is_priced_once_at_its_rate(settings, warehouse, org):
    models = {"gpt-realtime-2025-08-28", "gpt-5.6-terra", "gpt-image-1"}
    _assert_priced_exactly(
        _estimates(warehouse, settings, org, models),
        {
            ("gpt-realtime-2025-08-28", "standard", "input"): "0.01",
            ("gpt-realtime-2025-08-28", "standard", "cached input"): "0.0006",
            ("gpt-realtime-2025-08-28", "standard", "audio input"): "0.016",
            ("gpt-realtime-2025-08-28", "standard", "audio cached input"): "0.00004",
            ("gpt-realtime-2025-08-28", "standard", "image input"): "0.001",
            ("gpt-realtime-2025-08-28", "standard", "image cached input"): "0.0001",
            ("gpt-realtime-2025-08-28", "standard", "output"): "0.0128",
            ("gpt-realtime-2025-08-28", "standard", "audio output"): "0.0128",
            ("gpt-5.6-terra", "standard", "input"): "1.00",
            ("gpt-5.6-terra", "standard", "cached input"): "0.06",
            ("gpt-5.6-terra", "standard", "cache writes"): "0.50",
            ("gpt-5.6-terra", "standard", "output"): "1.20",
            ("gpt-image-1", "standard", "input"): "0.005",
            ("gpt-image-1", "standard", "image input"): "0.02",
            ("gpt-image-1", "standard", "image output"): "0.1664",
        },
    )  # 3.00474 billed (0.05334 + 2.76 + 0.1914), 3.00474 estimated
    # What the case bills besides (whisper, fine-tuning, the remainder) has no usage estimate: never priced at 0.
    others = [r for r in _rows(warehouse, settings, org, "llm_cost_estimates") if r["model"] is None]
    assert len(others) == 3 and {r["status"] for r in others} == {"billed_only"}


def test_defect_6_focus_rows_name_the_project_and_measure_every_usage_row(settings, warehouse, org):
    rows = {r["SkuId"]: r for r in _rows(warehouse, settings, org, "cost_focus")}
    flex = rows["o3-2025-04-16, cached input, flex"]
    assert (flex["SubAccountName"], flex["ConsumedQuantity"], flex["ConsumedUnit"]) == (
        "Tiers lab",
        400_000,
        "Tokens",
    )
    assert flex["ListCost"] == flex["ContractedCost"] == flex["BilledCost"] == Decimal("0.1")
    audio = rows["gpt-realtime-2025-08-28 audio, input"]  # uncached audio only: 500, not 3,200
    assert (audio["ConsumedQuantity"], audio["x_token_type"], audio["x_model"]) == (
        500,
        "audio input",
        "gpt-realtime-2025-08-28",
    )
    whisper = rows["whisper"]  # no token count: the Costs API's own quantity and unit
    assert (whisper["ChargeCategory"], whisper["ConsumedQuantity"], whisper["PricingUnit"]) == (
        "Usage",
        120,
        "Seconds",
    )
    unnamed = rows["fine-tuning training"]  # a project the cost result does not name: its id
    assert (unnamed["SubAccountId"], unnamed["SubAccountName"]) == ("proj_unnamed", "proj_unnamed")
    remainder = rows[None]  # no line item and no quantity: not measurable usage
    assert (remainder["ChargeCategory"], remainder["ConsumedQuantity"], remainder["SubAccountName"]) == (
        "Adjustment",
        None,
        None,
    )
    usage = [r for r in rows.values() if r["ChargeCategory"] == "Usage"]
    assert all(r["ConsumedQuantity"] is not None and r["PricingUnit"] is not None for r in usage)
    assert all(r["ChargeFrequency"] == "Usage-Based" for r in rows.values())
