"""The LLM price table: read exactly, validated strictly, and in agreement with the provider sandbox's prices."""

from datetime import date
from decimal import Decimal

import pytest

from devstack.providers.anthropic import sandbox as anthropic_sandbox
from devstack.providers.openai import records as openai_records
from shared.platform.errors import TerminalError
from shared.platform.settings import DEFAULT_CONFIG_DIR
from shared.pricing.price_table import GEO_MODEL, load_price_table, parse_price_table, priced_providers

ENTRY = """
version: "t1"
currency: USD
providers: {{anthropic: Anthropic}}
models:
  - provider: anthropic
    model: m
    effective_from: 2025-01-01
    effective_to: {end}
    source: {{url: https://example.com/pricing, reviewed: 2025-01-02}}
    standard: {{input: 0.1, output: 3}}
"""


def _rates(provider, model, tier, window=None):
    return {
        row["rate_type"]: row["usd_per_million"]
        for row in load_price_table(DEFAULT_CONFIG_DIR)
        if (row["provider"], row["model"], row["service_tier"], row["context_window"])
        == (provider, model, tier, window)
    }


def test_numbers_are_exact_decimals_never_float():
    rows = parse_price_table(ENTRY.format(end="null"))
    assert [(r["rate_type"], r["usd_per_million"]) for r in rows] == [
        ("input", Decimal("0.1")),
        ("output", 3),
    ]
    assert all(isinstance(r["usd_per_million"], (Decimal, int)) for r in rows)


@pytest.mark.parametrize(
    "text",
    [
        ENTRY.format(end="2024-12-31"),  # ends before it starts
        ENTRY.format(end="null").replace("input: 0.1", "input: -1"),
        ENTRY.format(end="null").replace("input: 0.1", "inptu: 0.1"),
        ENTRY.format(end="null").replace("currency: USD", "currency: EUR"),
        ENTRY.format(end="null") + ENTRY.format(end="null").split("models:\n")[1],  # two prices on one day
        ENTRY.format(end="null").replace(
            "    source: {url: https://example.com/pricing, reviewed: 2025-01-02}\n", ""
        ),
        ENTRY.format(end="null").replace("reviewed: 2025-01-02", "reviewed: soon"),
        ENTRY.format(end="null").replace("https://example.com", "example.com"),
    ],
)
def test_bad_tables_are_refused_with_a_reason(text):
    with pytest.raises(TerminalError) as caught:
        parse_price_table(text)
    assert caught.value.code == "PRICE_TABLE_INVALID"


def test_a_price_change_is_a_new_period_not_an_edit():
    periods = sorted(
        (r["effective_from"], r["effective_to"], r["usd_per_million"])
        for r in load_price_table(DEFAULT_CONFIG_DIR)
        if r["model"] == "o3-2025-04-16" and r["service_tier"] == "standard" and r["rate_type"] == "input"
    )
    assert [p[2] for p in periods] == [Decimal(10), Decimal(2)] and periods[0][1] == periods[1][0]


def _window_rates(model, tier, window):
    """The rates the estimate uses for a context window: the window's own entry, else the model's general one."""
    return _rates("anthropic", model, tier, window) or _rates("anthropic", model, tier)


def test_the_anthropic_sandbox_bills_at_the_price_table():
    names = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
    for (model, window), prices in anthropic_sandbox.PRICES.items():
        assert _window_rates(model, "standard", window) == dict(zip(names, map(Decimal, prices)))
        batch = _window_rates(model, "batch", window)
        assert batch == {name: Decimal(price) / 2 for name, price in zip(names, prices)}


def test_the_anthropic_sandbox_bills_us_only_inference_at_the_price_table():
    names = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
    multiplier = anthropic_sandbox.US_MULTIPLIER
    for (model, window), prices in anthropic_sandbox.PRICES.items():
        if model in anthropic_sandbox.GEO_MODELS:
            us = GEO_MODEL.format(model=model, geo="us")
            expected = {name: Decimal(price) * multiplier for name, price in zip(names, prices)}
            assert _window_rates(us, "standard", window) == expected
            assert _window_rates(us, "batch", window) == {name: rate / 2 for name, rate in expected.items()}


def test_an_inference_geo_entry_is_the_model_named_with_its_geo():
    rows = parse_price_table(
        ENTRY.format(end="null").replace("    model: m\n", "    model: m\n    inference_geo: us\n")
    )
    assert {r["model"] for r in rows} == {"m (inference_geo us)"}
    with pytest.raises(TerminalError, match="not a geo name"):
        parse_price_table(
            ENTRY.format(end="null").replace("    model: m\n", "    model: m\n    inference_geo: 'u s'\n")
        )


def test_sonnet_4_long_context_has_its_own_rates():
    """Issue 15 defect 5: Claude Sonnet 4 over 200k input tokens (1M context) is billed 2x input and 1.5x output,
    the cache multipliers on top (pricing page, read 2026-11-30): $6 / $22.50 / read $0.60 / writes $7.50 and
    $12 per 1M tokens; batch half. Before the fix the table had no such row (the base $3 / $15 applied)."""
    model = "claude-sonnet-4-20250514"
    assert _rates("anthropic", model, "standard", "200k-1M") == {
        "input": Decimal("6.00"),
        "output": Decimal("22.50"),
        "cache_read": Decimal("0.60"),
        "cache_write_5m": Decimal("7.50"),
        "cache_write_1h": Decimal("12.00"),
    }
    assert _rates("anthropic", model, "batch", "200k-1M")["output"] == Decimal("11.25")
    # The base window is unchanged.
    assert _rates("anthropic", model, "standard")["output"] == Decimal("15.00")


def test_every_anthropic_row_cites_the_pricing_page_read_for_issue_15():
    anthropic = [r for r in load_price_table(DEFAULT_CONFIG_DIR) if r["provider"] == "anthropic"]
    tokens = [r for r in anthropic if r["unit"] == "tokens"]
    # The list prices from the pricing page; the US-only multiplier from the service tiers page.
    assert tokens and {(r["source_url"], r["source_reviewed"]) for r in tokens} == {
        ("https://platform.claude.com/docs/en/about-claude/pricing", date(2026, 11, 30)),
        ("https://platform.claude.com/docs/en/api/service-tiers", date(2026, 11, 30)),
    }


def test_the_openai_sandbox_bills_at_the_price_table():
    for model, tiers in openai_records.PRICES.items():
        for tier, prices in tiers.items():
            rates = _rates("openai", model, tier)
            assert {rate: rates.get(rate) for rate in prices} == prices, (model, tier)


def test_the_priced_providers_are_the_llm_providers_with_their_focus_names():
    """The price table names each priced provider's cost_focus ProviderName (the reconciliation view matches the
    bill by it): the same providers, and names, as their contracts declare."""
    from shared.providers.registry import PROVIDERS

    declared = {name: p.focus.provider_name for name, p in PROVIDERS.items() if p.llm_pricing}
    assert priced_providers(DEFAULT_CONFIG_DIR) == declared


def test_a_priced_provider_without_a_focus_name_is_refused():
    with pytest.raises(TerminalError, match="ProviderName of anthropic"):
        parse_price_table(
            ENTRY.replace("providers: {{anthropic: Anthropic}}", "providers: {{}}").format(end="null")
        )


def test_a_tier_read_on_another_page_cites_that_page():
    text = (
        ENTRY.format(end="null").replace(
            "    source: {url: https://example.com/pricing, reviewed: 2025-01-02}\n",
            "    source:\n      - {url: https://example.com/pricing, reviewed: 2025-01-02}\n"
            "      - {url: https://example.com/priority, reviewed: 2025-01-03, tiers: [priority]}\n",
        )
        + "    priority: {input: 0.2}\n"
    )
    cited = {(r["service_tier"], r["source_url"], r["source_reviewed"]) for r in parse_price_table(text)}
    assert cited == {
        ("standard", "https://example.com/pricing", date(2025, 1, 2)),
        ("priority", "https://example.com/priority", date(2025, 1, 3)),
    }
    only_tiered = text.replace("      - {url: https://example.com/pricing, reviewed: 2025-01-02}\n", "")
    with pytest.raises(TerminalError, match="one source must name no tiers"):
        parse_price_table(only_tiered)
