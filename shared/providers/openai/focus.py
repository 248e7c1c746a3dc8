"""Step `openai.focus`: the OpenAI slice of cost_focus, from openai_costs_daily and openai_usage_daily (SQL)."""

from __future__ import annotations

from shared.providers.kit.focus import daily_usage_columns, focus_step
from shared.providers.openai import PROVIDER

SERVICE_NAME = "OpenAI API"
# Line item kinds ("<model>, <kind>") and the usage counter that measures each; others have no token count.
TOKEN_COUNTERS = {
    "input": "input_uncached_tokens",
    "cached input": "input_cached_tokens",
    "output": "output_tokens",
    "audio input": "input_audio_tokens",
    "audio output": "output_audio_tokens",
}


def _source(dataset: str) -> str:
    """One row per costs row (day, project, line item), with its tokens where unambiguous and its estimate."""
    sums = ",\n        ".join(f"SUM({counter}) AS {counter}" for counter in TOKEN_COUNTERS.values())
    kinds = " ".join(f"WHEN '{kind}' THEN u.{counter}" for kind, counter in TOKEN_COUNTERS.items())
    return f"""
    WITH usage AS (
      SELECT usage_date, project_id, model,
        {sums},
        -- Batch tokens are billed at another price, under line items we cannot tell apart: ambiguous.
        LOGICAL_OR(IFNULL(batch, FALSE)) AS has_batch
      FROM `{dataset}.openai_usage_daily` WHERE usage_date BETWEEN @slice_start AND @slice_end
      GROUP BY usage_date, project_id, model),
    costs AS (
      SELECT c.*, IF(STRPOS(c.line_item, ', ') > 0, SUBSTR(c.line_item, 1, STRPOS(c.line_item, ', ') - 1), NULL) AS model,
        IF(STRPOS(c.line_item, ', ') > 0, SUBSTR(c.line_item, STRPOS(c.line_item, ', ') + 2), NULL) AS token_type
      FROM `{dataset}.openai_costs_daily` AS c WHERE c.cost_date BETWEEN @slice_start AND @slice_end),
    estimates AS (
      SELECT * FROM `{dataset}.llm_cost_estimates`
      WHERE provider = 'openai' AND usage_date BETWEEN @slice_start AND @slice_end),
    priced AS (
      SELECT c.*, CAST(IF(u.has_batch, NULL, CASE c.token_type {kinds} END) AS NUMERIC) AS tokens,
        -- List and contracted cost from the price table (llm_cost_estimates) where the line is priced in USD.
        IF(c.currency = 'USD', e.list_cost, NULL) AS list_cost,
        IF(c.currency = 'USD', e.estimated_cost, NULL) AS contracted_cost
      FROM costs AS c LEFT JOIN usage AS u
        ON u.usage_date = c.cost_date AND IFNULL(u.project_id, '') = IFNULL(c.project_id, '') AND u.model = c.model
      LEFT JOIN estimates AS e
        ON e.usage_date = c.cost_date AND IFNULL(e.subaccount_id, '') = IFNULL(c.project_id, '')
        AND e.model = c.model AND e.token_type = c.token_type AND e.currency = c.currency)
    """


# FOCUS columns beyond the daily-usage ones every report-API provider shares (kit.focus.daily_usage_columns).
COLUMNS = {
    "SubAccountId": "project_id",
    "ChargeDescription": "IFNULL(line_item, 'OpenAI API usage')",
    # The billed amount where the line has no estimate (unpriced: flagged in llm_cost_estimates, never 0).
    "ListCost": "IFNULL(list_cost, amount)",
    "ContractedCost": "IFNULL(contracted_cost, amount)",
    "PricingQuantity": "tokens",
    "PricingUnit": "IF(tokens IS NULL, NULL, 'Tokens')",
    "ConsumedQuantity": "tokens",
    "ConsumedUnit": "IF(tokens IS NULL, NULL, 'Tokens')",
    "SkuId": "line_item",
    "x_model": "model",
    "x_token_type": "token_type",
}


# One FOCUS row per costs row (day, project, line item).
build_openai_focus = focus_step(
    PROVIDER,
    SERVICE_NAME,
    {**daily_usage_columns("cost_date", "amount", "currency", "openai_costs_daily"), **COLUMNS},
    lambda dataset: (_source(dataset), "FROM priced"),
)
