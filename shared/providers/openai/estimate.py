"""OpenAI's inputs to the cost estimate: completions usage per token type, and the costs' line items, as SQL."""

from __future__ import annotations

from shared.pricing.estimates import EstimateSources

# (line item kind, price table rate, usage column): the kinds the Costs API bills completions tokens under.
TOKEN_TYPES = (
    ("input", "input", "input_uncached_tokens"),
    ("cached input", "cache_read", "input_cached_tokens"),
    ("output", "output", "output_tokens"),
    ("audio input", "audio_input", "input_audio_tokens"),
    ("audio output", "audio_output", "output_audio_tokens"),
)
_STRUCTS = ",\n        ".join(
    f"STRUCT('{kind}' AS token_type, '{rate}' AS rate_type, u.{column} AS quantity)"
    for kind, rate, column in TOKEN_TYPES
)

# Batch usage is priced at the batch rates; the bill's line items do not split by tier, so the line has none.
USAGE_SQL = f"""
    SELECT usage_date, project_id AS subaccount_id, model, IF(IFNULL(batch, FALSE), 'batch', 'standard') AS service_tier,
      CAST(NULL AS STRING) AS context_window, t.token_type, t.rate_type, 'tokens' AS unit,
      SUM(t.quantity) AS quantity, CAST(NULL AS STRING) AS bill_tier, CAST(NULL AS STRING) AS bill_window
    FROM `{{ds}}.openai_usage_daily` AS u, UNNEST([
        {_STRUCTS}]) AS t
    WHERE usage_date BETWEEN @slice_start AND @slice_end AND t.quantity > 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 10, 11
"""
# Line items are "<model>, <kind>"; anything else (fine-tuning, tools) is billed without a usage estimate.
BILLED_SQL = """
    SELECT cost_date AS usage_date, project_id AS subaccount_id,
      IF(STRPOS(line_item, ', ') > 0, SUBSTR(line_item, 1, STRPOS(line_item, ', ') - 1), NULL) AS model,
      CAST(NULL AS STRING) AS bill_tier, CAST(NULL AS STRING) AS bill_window,
      IF(STRPOS(line_item, ', ') > 0, SUBSTR(line_item, STRPOS(line_item, ', ') + 2), line_item) AS token_type,
      currency, SUM(amount) AS amount
    FROM `{ds}.openai_costs_daily`
    WHERE cost_date BETWEEN @slice_start AND @slice_end
    GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

SOURCES = EstimateSources(provider="openai", usage=USAGE_SQL, billed=BILLED_SQL)
