"""Anthropic's inputs to the cost estimate: usage per token type, and the cost report's lines, as SQL."""

from __future__ import annotations

from shared.pricing.estimates import EstimateSources

# (cost report token_type, price table rate, unit, usage column). Web search is billed per request, whatever the
# model: its line has no model, tier or window on either side.
TOKEN_TYPES = (
    ("uncached_input_tokens", "input", "tokens", "uncached_input_tokens"),
    ("cache_read_input_tokens", "cache_read", "tokens", "cache_read_input_tokens"),
    (
        "cache_creation.ephemeral_5m_input_tokens",
        "cache_write_5m",
        "tokens",
        "cache_creation_5m_input_tokens",
    ),
    (
        "cache_creation.ephemeral_1h_input_tokens",
        "cache_write_1h",
        "tokens",
        "cache_creation_1h_input_tokens",
    ),
    ("output_tokens", "output", "tokens", "output_tokens"),
    ("web_search", "web_search", "requests", "web_search_requests"),
)
_STRUCTS = ",\n        ".join(
    f"STRUCT('{token}' AS token_type, '{rate}' AS rate_type, '{unit}' AS unit, u.{column} AS quantity)"
    for token, rate, unit, column in TOKEN_TYPES
)
_PER_TOKEN = "t.rate_type != 'web_search'"

USAGE_SQL = f"""
    SELECT usage_date, workspace_label AS subaccount_id, IF({_PER_TOKEN}, model, NULL) AS model, service_tier,
      context_window, t.token_type, t.rate_type, t.unit, SUM(t.quantity) AS quantity,
      IF({_PER_TOKEN}, service_tier, NULL) AS bill_tier, IF({_PER_TOKEN}, context_window, NULL) AS bill_window
    FROM `{{ds}}.anthropic_usage_daily` AS u, UNNEST([
        {_STRUCTS}]) AS t
    WHERE usage_date BETWEEN @slice_start AND @slice_end AND t.quantity > 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 10, 11
"""
BILLED_SQL = """
    SELECT cost_date AS usage_date, workspace_label AS subaccount_id,
      IF(cost_type = 'tokens', model, NULL) AS model, IF(cost_type = 'tokens', service_tier, NULL) AS bill_tier,
      IF(cost_type = 'tokens', context_window, NULL) AS bill_window,
      IF(cost_type = 'tokens', token_type, cost_type) AS token_type, currency, SUM(amount) AS amount
    FROM `{ds}.anthropic_costs_daily`
    WHERE cost_date BETWEEN @slice_start AND @slice_end
    GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

SOURCES = EstimateSources(provider="anthropic", usage=USAGE_SQL, billed=BILLED_SQL)
