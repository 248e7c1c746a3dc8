"""OpenAI's inputs to the cost estimate: completions usage per tier and token type, and the costs' line items read
to the same grain (line_items.py), as SQL."""

from __future__ import annotations

from shared.pricing.estimates import EstimateSources
from shared.providers.openai.line_items import bill_lines_sql

# (token type as the bill names it, price table rate, usage column): every priced token in exactly one column.
TOKEN_TYPES = (
    ("input", "input", "input_text_tokens"),
    ("cached input", "cache_read", "input_cached_text_tokens"),
    ("cache writes", "cache_write", "input_cache_write_tokens"),
    ("output", "output", "output_text_tokens"),
    ("audio input", "audio_input", "input_audio_tokens"),
    ("audio cached input", "audio_cache_read", "input_cached_audio_tokens"),
    ("audio output", "audio_output", "output_audio_tokens"),
    ("image input", "image_input", "input_image_tokens"),
    ("image cached input", "image_cache_read", "input_cached_image_tokens"),
    ("image output", "image_output", "output_image_tokens"),
)
_STRUCTS = ",\n        ".join(
    f"STRUCT('{kind}' AS token_type, '{rate}' AS rate_type, u.{column} AS quantity)"
    for kind, rate, column in TOKEN_TYPES
)
# The price table's tier of a usage row. Batch jobs are the batch tier whatever their service_tier. The API names
# the standard tier "default" ("auto" is what a request asks for, not what served it), and Fast mode "priority"
# ("fast" kept in case it shows); any other name (scale, ultrafast, auto) is kept as given and finds no price:
# reported unpriced by name rather than estimated at another tier's rates.
SERVICE_TIER_SQL = """CASE WHEN IFNULL(u.batch, FALSE) THEN 'batch'
        WHEN u.service_tier IS NULL OR u.service_tier = 'default' THEN 'standard'
        WHEN u.service_tier IN ('priority', 'fast') THEN 'priority'
        ELSE u.service_tier END"""

# The bill names the tier in its line items (line_items.py), so each tier meets its own bill line.
USAGE_SQL = f"""
    SELECT usage_date, project_id AS subaccount_id, model, {SERVICE_TIER_SQL} AS service_tier,
      CAST(NULL AS STRING) AS context_window, t.token_type, t.rate_type, 'tokens' AS unit,
      SUM(t.quantity) AS quantity, {SERVICE_TIER_SQL} AS bill_tier, CAST(NULL AS STRING) AS bill_window
    FROM `{{ds}}.openai_usage_daily` AS u, UNNEST([
        {_STRUCTS}]) AS t
    WHERE usage_date BETWEEN @slice_start AND @slice_end AND t.quantity > 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 10, 11
"""
# Line items without a kind (fine-tuning, tools) are billed without a usage estimate.
BILLED_SQL = f"""
    SELECT cost_date AS usage_date, project_id AS subaccount_id, model, bill_tier, bill_window, token_type,
      currency, SUM(amount) AS amount
    FROM ({bill_lines_sql("{ds}")})
    GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

SOURCES = EstimateSources(provider="openai", usage=USAGE_SQL, billed=BILLED_SQL)
