"""Step `openai.focus`: the OpenAI slice of cost_focus, from openai_costs_daily and openai_usage_daily (SQL)."""

from __future__ import annotations

from shared.providers.kit.focus import daily_usage_columns, focus_step
from shared.providers.openai import PROVIDER
from shared.providers.openai.estimate import SERVICE_TIER_SQL, TOKEN_TYPES
from shared.providers.openai.line_items import bill_lines_sql

SERVICE_NAME = "OpenAI API"
# The Costs API's quantity_unit → a FOCUS UnitFormat unit. A line whose unit is none of these, or none at all,
# still measures something: counted in "Units".
QUANTITY_UNITS = {
    "tokens": "Tokens",
    "1000_tokens": "1000 Tokens",
    "duration_seconds": "Seconds",
    "duration_minutes": "Minutes",
    "duration_hours": "Hours",
    "gibibyte_hours": "GiB-Hours",
    "images": "Images",
    "characters": "Characters",
}


def _usage_sql(dataset: str) -> str:
    """Usage tokens per (day, project, model, tier, token type): the same grain as a read line item."""
    structs = ", ".join(f"STRUCT('{kind}' AS token_type, u.{column} AS n)" for kind, _, column in TOKEN_TYPES)
    return f"""
      SELECT u.usage_date, u.project_id, u.model, {SERVICE_TIER_SQL} AS tier, t.token_type, SUM(t.n) AS tokens
      FROM `{dataset}.openai_usage_daily` AS u, UNNEST([{structs}]) AS t
      WHERE u.usage_date BETWEEN @slice_start AND @slice_end
      GROUP BY 1, 2, 3, 4, 5"""


def _source(dataset: str) -> str:
    """One row per costs row (day, project, line item): its tokens (usage of its tier and token type, else the
    quantity the Costs API gives) and its estimate."""
    units = " ".join(f"WHEN '{unit}' THEN '{focus}'" for unit, focus in QUANTITY_UNITS.items())
    return f"""
    WITH usage AS ({_usage_sql(dataset)}),
    costs AS ({bill_lines_sql(dataset)}),
    estimates AS (
      SELECT * FROM `{dataset}.llm_cost_estimates`
      WHERE provider = 'openai' AND usage_date BETWEEN @slice_start AND @slice_end),
    priced AS (
      SELECT c.*,
        -- A line of a context window the usage does not split by (long context) has no token count of its own.
        CAST(COALESCE(IF(c.bill_window IS NULL, u.tokens, NULL), c.quantity) AS NUMERIC) AS consumed,
        IF(IF(c.bill_window IS NULL, u.tokens, NULL) IS NOT NULL, 'Tokens',
           IF(c.quantity IS NULL, NULL, CASE c.quantity_unit {units} ELSE 'Units' END)) AS consumed_unit,
        -- List and contracted cost from the price table (llm_cost_estimates) where the line is priced in USD.
        IF(c.currency = 'USD', e.list_cost, NULL) AS list_cost,
        IF(c.currency = 'USD', e.estimated_cost, NULL) AS contracted_cost
      FROM costs AS c LEFT JOIN usage AS u
        ON u.usage_date = c.cost_date AND IFNULL(u.project_id, '') = IFNULL(c.project_id, '')
        AND u.model = c.model AND u.tier = c.bill_tier AND u.token_type = c.token_type AND u.tokens > 0
      LEFT JOIN estimates AS e
        ON e.usage_date = c.cost_date AND IFNULL(e.subaccount_id, '') = IFNULL(c.project_id, '')
        AND e.model = c.model AND e.token_type = c.token_type AND e.currency = c.currency
        AND IFNULL(e.service_tier, '') = IFNULL(c.bill_tier, '')
        AND IFNULL(e.context_window, '') = IFNULL(c.bill_window, ''))
    """


# FOCUS columns beyond the daily-usage ones every report-API provider shares (kit.focus.daily_usage_columns).
COLUMNS = {
    "SubAccountId": "project_id",
    # The project's name where the cost result names it; its id otherwise (FOCUS: a SubAccountId has a name).
    "SubAccountName": "IF(project_id IS NULL, NULL, IFNULL(project_name, project_id))",
    "ChargeDescription": "IFNULL(line_item, 'OpenAI API usage')",
    # A billed amount the Costs API names no line item and no quantity for is not usage we can measure: FOCUS
    # wants a quantity and a SKU on every Usage row, so it is an adjustment to the bill (a rounding remainder).
    "ChargeCategory": "IF(line_item IS NULL AND consumed IS NULL, 'Adjustment', 'Usage')",
    # The billed amount where the line has no estimate (unpriced: flagged in llm_cost_estimates, never 0).
    "ListCost": "IFNULL(list_cost, amount)",
    "ContractedCost": "IFNULL(contracted_cost, amount)",
    "PricingQuantity": "consumed",
    "PricingUnit": "consumed_unit",
    "ConsumedQuantity": "consumed",
    "ConsumedUnit": "consumed_unit",
    # The line item names model, modality, token kind and tier: what OpenAI prices separately.
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
