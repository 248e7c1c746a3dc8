"""The Anthropic sandbox's organisation: its workspaces, the models it uses and the provider's list prices it bills
at (spelled out here, never read from configs/prices)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

WORKSPACES = (None, "wrkspc_sandbox_product", "wrkspc_sandbox_research")  # None: the default workspace
# Their names, as the Workspaces API lists them (the default workspace is not listed unless include_default).
WORKSPACE_NAMES = {"wrkspc_sandbox_product": "Product", "wrkspc_sandbox_research": "Research"}
# The provider's own list prices, USD per 1M tokens (input, output, cache read, cache write 5m, cache write 1h),
# by model and context window; batch is half. Spelled out here, not read from configs/prices: a stand-in sharing
# the client's table would agree with a wrong table by construction. tests/unit/test_price_table.py compares them.
# Long context (input over 200k tokens): Sonnet 4.5 and Sonnet 4 bill every token of such a request at 2x input and
# 1.5x output (the cache multipliers on top); Sonnet 4.6 has one price for its whole 1M window.
PRICES = {
    ("claude-opus-4-6", "0-200k"): ("5.00", "25.00", "0.50", "6.25", "10.00"),
    ("claude-sonnet-4-6", "0-200k"): ("3.00", "15.00", "0.30", "3.75", "6.00"),
    ("claude-sonnet-4-6", "200k-1M"): ("3.00", "15.00", "0.30", "3.75", "6.00"),
    ("claude-sonnet-4-5-20250929", "0-200k"): ("3.00", "15.00", "0.30", "3.75", "6.00"),
    ("claude-sonnet-4-5-20250929", "200k-1M"): ("6.00", "22.50", "0.60", "7.50", "12.00"),
    ("claude-sonnet-4-20250514", "0-200k"): ("3.00", "15.00", "0.30", "3.75", "6.00"),
    ("claude-sonnet-4-20250514", "200k-1M"): ("6.00", "22.50", "0.60", "7.50", "12.00"),
    ("claude-haiku-4-5-20251001", "0-200k"): ("1.00", "5.00", "0.10", "1.25", "2.00"),
    ("claude-opus-4-5-20251101", "0-200k"): ("5.00", "25.00", "0.50", "6.25", "10.00"),
    ("claude-opus-4-1-20250805", "0-200k"): ("15.00", "75.00", "1.50", "18.75", "30.00"),
}
RELEASED = {
    "claude-opus-4-6": date(2026, 2, 5),
    "claude-sonnet-4-6": date(2026, 2, 17),
    "claude-sonnet-4-5-20250929": date(2025, 9, 29),
    "claude-sonnet-4-20250514": date(2025, 8, 12),  # its long-context window opened then; earlier days: none
    "claude-haiku-4-5-20251001": date(2025, 10, 15),
    "claude-opus-4-5-20251101": date(2025, 11, 24),
    "claude-opus-4-1-20250805": date(2025, 8, 5),
}
NAMES = {
    "claude-opus-4-6": "Claude Opus 4.6",
    "claude-sonnet-4-6": "Claude Sonnet 4.6",
    "claude-sonnet-4-5-20250929": "Claude Sonnet 4.5",
    "claude-sonnet-4-20250514": "Claude Sonnet 4",
    "claude-haiku-4-5-20251001": "Claude Haiku 4.5",
    "claude-opus-4-5-20251101": "Claude Opus 4.5",
    "claude-opus-4-1-20250805": "Claude Opus 4.1",
}
# Models that take the inference_geo parameter (Opus 4.6, Sonnet 4.6 and newer); the others report "not_available".
# US-only inference ("us") is billed at 1.1x every rate (batch's half included); "global" at list price.
GEO_MODELS = {"claude-opus-4-6", "claude-sonnet-4-6"}
US_MULTIPLIER = Decimal("1.1")
# Priority Tier usage is reported by the usage report but its cost is not in the cost report (Anthropic bills it
# by the organisation's capacity commitment): usage only, reported unpriced as "... (service_tier priority)".
TIERS = (("standard", 0.55), ("batch", 0.85), ("priority", 1.0))  # cumulative draw thresholds
# (cost report token_type, label in descriptions, index in PRICES, usage field path)
TOKEN_TYPES = (
    ("uncached_input_tokens", "Input Tokens", 0, ("uncached_input_tokens",)),
    ("output_tokens", "Output Tokens", 1, ("output_tokens",)),
    ("cache_read_input_tokens", "Cache Read", 2, ("cache_read_input_tokens",)),
    (
        "cache_creation.ephemeral_5m_input_tokens",
        "Cache Write (5m)",
        3,
        ("cache_creation", "ephemeral_5m_input_tokens"),
    ),
    (
        "cache_creation.ephemeral_1h_input_tokens",
        "Cache Write (1h)",
        4,
        ("cache_creation", "ephemeral_1h_input_tokens"),
    ),
)
WEB_SEARCH_CENTS = Decimal(1)  # $10 per 1,000 searches
