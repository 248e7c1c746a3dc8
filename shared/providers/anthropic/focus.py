"""Step `anthropic.focus`: the Anthropic slice of cost_focus from anthropic_costs_daily and the estimates (SQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.providers.contract import StepContext
from shared.providers.kit.focus import FOCUS_TABLE, service_categories
from shared.warehouse.adapter import Warehouse
from shared.warehouse.schemas import load_table_specs

PROVIDER_NAME = "Anthropic"
SERVICE_NAME = "Claude API"
COMMIT_RESERVE_SECONDS = 5.0  # one DELETE and one INSERT ... SELECT over a few days
# The line a cost row belongs to in llm_cost_estimates (the same expressions as estimate.BILLED_SQL).
_LINE = """IF(cost_type = 'tokens', model, NULL) AS line_model,
        IF(cost_type = 'tokens', service_tier, NULL) AS line_tier,
        IF(cost_type = 'tokens', context_window, NULL) AS line_window,
        IF(cost_type = 'tokens', token_type, cost_type) AS line_token_type"""


def focus_select(dataset: str) -> str:
    """One FOCUS row per costs row; quantity, list and contracted cost from its estimate line when it is alone."""
    return f"""
    WITH costs AS (
      SELECT c.*, {_LINE}
      FROM `{dataset}.anthropic_costs_daily` AS c WHERE c.cost_date BETWEEN @slice_start AND @slice_end),
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
    SELECT
      @billing_account AS BillingAccountId, NULL AS BillingAccountName, workspace_label AS SubAccountId,
      IF(workspace_id IS NULL, 'Default workspace', NULL) AS SubAccountName, currency AS BillingCurrency,
      -- Anthropic invoices calendar months in UTC.
      TIMESTAMP(DATE_TRUNC(cost_date, MONTH)) AS BillingPeriodStart,
      TIMESTAMP(DATE_ADD(DATE_TRUNC(cost_date, MONTH), INTERVAL 1 MONTH)) AS BillingPeriodEnd,
      TIMESTAMP(cost_date) AS ChargePeriodStart, TIMESTAMP(DATE_ADD(cost_date, INTERVAL 1 DAY)) AS ChargePeriodEnd,
      'Usage' AS ChargeCategory, NULL AS ChargeClass, IFNULL(description, 'Claude API usage') AS ChargeDescription,
      'Usage-Based' AS ChargeFrequency,
      amount AS BilledCost, amount AS EffectiveCost,
      -- List and contracted (org override) prices from the price table; the billed amount where there is no
      -- estimate (unpriced model: flagged in llm_cost_estimates and the reconciliation view, never priced at 0).
      IFNULL(list_cost, amount) AS ListCost, IFNULL(estimated_cost, amount) AS ContractedCost,
      CAST(quantity AS NUMERIC) AS PricingQuantity,
      CASE WHEN quantity IS NULL THEN NULL WHEN unit = 'requests' THEN 'Requests' ELSE 'Tokens' END AS PricingUnit,
      CAST(quantity AS NUMERIC) AS ConsumedQuantity,
      CASE WHEN quantity IS NULL THEN NULL WHEN unit = 'requests' THEN 'Requests' ELSE 'Tokens' END AS ConsumedUnit,
      @provider AS ProviderName, @provider AS PublisherName, @provider AS InvoiceIssuerName,
      @category AS ServiceCategory, @service AS ServiceName,
      NULLIF(ARRAY_TO_STRING([cost_type, model, token_type, service_tier, context_window], '/'), '') AS SkuId,
      NULL AS RegionId, NULL AS RegionName, NULL AS AvailabilityZone, NULL AS ResourceId, NULL AS ResourceName,
      NULL AS Tags, cost_type AS x_cost_type, NULL AS x_credits_total, NULL AS x_credits_committed_use,
      NULL AS x_credits_sustained_use, NULL AS x_credits_promotion, NULL AS x_credits_discount,
      NULL AS x_credits_other, NULL AS x_currency_conversion_rate, model AS x_model, token_type AS x_token_type,
      'anthropic_costs_daily' AS x_source_table, cost_date AS x_source_partition,
      @run_id AS x_pipeline_logging_id, @ingested_at AS x_ingested_at
    FROM joined
    """


def build_anthropic_focus(ctx: StepContext, warehouse: Warehouse) -> int:
    """Replace the Anthropic slice (ProviderName, requested days) of cost_focus; returns the rows it now holds."""
    dataset = ctx.settings.org_dataset(ctx.org_slug)
    spec = load_table_specs(ctx.settings.config_dir, "org")[ctx.destination_table or FOCUS_TABLE]
    categories, default = service_categories(ctx.settings.config_dir, PROVIDER_NAME)
    params = {
        # The cost report names no billing account; the org's Anthropic organization is the credential's: the slug.
        "billing_account": ctx.org_slug,
        "provider": PROVIDER_NAME,
        "service": SERVICE_NAME,
        "category": categories.get(SERVICE_NAME, default),
        "run_id": ctx.run_id,
        "ingested_at": datetime.now(UTC),
    }
    ctx.ensure_time_left(COMMIT_RESERVE_SECONDS, "the FOCUS rows")
    return warehouse.replace_slice_with_query(
        dataset,
        spec,
        focus_select(f"{warehouse.project}.{dataset}"),
        params,
        ctx.start_date,
        ctx.end_date,
        match={"ProviderName": PROVIDER_NAME},
    )
