"""Step `anthropic.focus`: the Anthropic slice of cost_focus from anthropic_costs_daily and the estimates (SQL)."""

from __future__ import annotations

from shared.providers.anthropic import PROVIDER
from shared.providers.anthropic.estimate import priced_line
from shared.providers.kit.focus import daily_usage_columns, focus_step

SERVICE_NAME = "Claude API"
# The line a cost row belongs to in llm_cost_estimates (the same expressions as estimate.BILLED_SQL; the model
# named with a tier or geo the price table does not price, as there).
_LINE = """IF(c.cost_type = 'tokens', {model}, NULL) AS line_model,
        IF(c.cost_type = 'tokens', c.service_tier, NULL) AS line_tier,
        IF(c.cost_type = 'tokens', c.context_window, NULL) AS line_window,
        IF(c.cost_type = 'tokens', c.token_type, c.cost_type) AS line_token_type"""
_UNIT = "CASE WHEN quantity IS NULL THEN NULL WHEN unit = 'requests' THEN 'Requests' ELSE 'Tokens' END"


def _source(dataset: str) -> str:
    """One row per costs row with its estimate line's quantity, list and contracted cost when it is alone."""
    joins, model = priced_line("c", "cost_date", dataset)
    return f"""
    WITH costs AS (
      SELECT c.*, {_LINE.format(model=model)}
      FROM `{dataset}.anthropic_costs_daily` AS c {joins}
      WHERE c.cost_date BETWEEN @slice_start AND @slice_end),
    keyed AS (
      SELECT *, COUNT(*) OVER (PARTITION BY cost_date, workspace_label, line_model, line_tier, line_window,
        line_token_type) AS rows_in_line
      FROM costs),
    estimates AS (
      SELECT * FROM `{dataset}.llm_cost_estimates`
      WHERE provider = 'anthropic' AND usage_date BETWEEN @slice_start AND @slice_end),
    joined AS (
      -- An estimate shared by several cost rows (or in another currency) cannot be split exactly: not used.
      SELECT k.*, IF(k.rows_in_line = 1, e.quantity, NULL) AS quantity, e.unit,
        IF(k.rows_in_line = 1 AND k.currency = 'USD', e.list_cost, NULL) AS list_cost,
        IF(k.rows_in_line = 1 AND k.currency = 'USD', e.estimated_cost, NULL) AS estimated_cost
      FROM keyed AS k LEFT JOIN estimates AS e
        ON e.usage_date = k.cost_date AND e.subaccount_id = k.workspace_label
        AND IFNULL(e.model, '') = IFNULL(k.line_model, '') AND IFNULL(e.service_tier, '') = IFNULL(k.line_tier, '')
        AND IFNULL(e.context_window, '') = IFNULL(k.line_window, '')
        AND IFNULL(e.token_type, '') = IFNULL(k.line_token_type, '') AND e.currency = k.currency)
    """


# FOCUS columns beyond the daily-usage ones every report-API provider shares (kit.focus.daily_usage_columns).
COLUMNS = {
    "SubAccountId": "workspace_label",
    # FOCUS: a SubAccountId has a SubAccountName. The Workspaces API names every workspace but the default one
    # (null id in the reports): that one by its Console name; a workspace the list lacks (deleted) by its id.
    "SubAccountName": "COALESCE(workspace_name, IF(workspace_id IS NULL, 'Default workspace', workspace_id))",
    "ChargeDescription": "IFNULL(description, 'Claude API usage')",
    # List and contracted (org override) prices from the price table; the billed amount where there is no
    # estimate (unpriced model: flagged in llm_cost_estimates and the reconciliation view, never priced at 0).
    "ListCost": "IFNULL(list_cost, amount)",
    "ContractedCost": "IFNULL(estimated_cost, amount)",
    "PricingQuantity": "CAST(quantity AS NUMERIC)",
    "PricingUnit": _UNIT,
    "ConsumedQuantity": "CAST(quantity AS NUMERIC)",
    "ConsumedUnit": _UNIT,
    "SkuId": "NULLIF(ARRAY_TO_STRING([cost_type, model, token_type, service_tier, context_window], '/'), '')",
    "x_cost_type": "cost_type",
    "x_model": "model",
    "x_token_type": "token_type",
}


# One FOCUS row per costs row (day, workspace, cost line).
build_anthropic_focus = focus_step(
    PROVIDER,
    SERVICE_NAME,
    {**daily_usage_columns("cost_date", "amount", "currency", "anthropic_costs_daily"), **COLUMNS},
    lambda dataset: (_source(dataset), "FROM joined"),
)
