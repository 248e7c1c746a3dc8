"""Step `openai.focus`: the OpenAI slice of cost_focus, from openai_costs_daily and openai_usage_daily (SQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.providers.contract import StepContext
from shared.providers.kit.focus import FOCUS_TABLE, service_categories
from shared.warehouse.adapter import Warehouse
from shared.warehouse.schemas import load_table_specs

PROVIDER_NAME = "OpenAI"
COMMIT_RESERVE_SECONDS = 5.0  # the transaction is one DELETE and one INSERT ... SELECT over a few days
SERVICE_NAME = "OpenAI API"
# Line item kinds ("<model>, <kind>") and the usage counter that measures each; others have no token count.
TOKEN_COUNTERS = {
    "input": "input_uncached_tokens",
    "cached input": "input_cached_tokens",
    "output": "output_tokens",
    "audio input": "input_audio_tokens",
    "audio output": "output_audio_tokens",
}


def focus_select(dataset: str) -> str:
    """One FOCUS row per costs row (day, project, line item); quantities from the usage table where unambiguous."""
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
    SELECT
      @billing_account AS BillingAccountId, NULL AS BillingAccountName, project_id AS SubAccountId,
      NULL AS SubAccountName, currency AS BillingCurrency,
      -- OpenAI invoices calendar months in UTC.
      TIMESTAMP(DATE_TRUNC(cost_date, MONTH)) AS BillingPeriodStart,
      TIMESTAMP(DATE_ADD(DATE_TRUNC(cost_date, MONTH), INTERVAL 1 MONTH)) AS BillingPeriodEnd,
      TIMESTAMP(cost_date) AS ChargePeriodStart, TIMESTAMP(DATE_ADD(cost_date, INTERVAL 1 DAY)) AS ChargePeriodEnd,
      'Usage' AS ChargeCategory, NULL AS ChargeClass, IFNULL(line_item, 'OpenAI API usage') AS ChargeDescription,
      'Usage-Based' AS ChargeFrequency,
      -- The billed amount where the line has no estimate (unpriced: flagged in llm_cost_estimates, never 0).
      amount AS BilledCost, amount AS EffectiveCost, IFNULL(list_cost, amount) AS ListCost,
      IFNULL(contracted_cost, amount) AS ContractedCost,
      tokens AS PricingQuantity, IF(tokens IS NULL, NULL, 'Tokens') AS PricingUnit,
      tokens AS ConsumedQuantity, IF(tokens IS NULL, NULL, 'Tokens') AS ConsumedUnit,
      @provider AS ProviderName, @provider AS PublisherName, @provider AS InvoiceIssuerName,
      @category AS ServiceCategory, @service AS ServiceName, line_item AS SkuId,
      NULL AS RegionId, NULL AS RegionName, NULL AS AvailabilityZone, NULL AS ResourceId, NULL AS ResourceName,
      NULL AS Tags, NULL AS x_cost_type, NULL AS x_credits_total, NULL AS x_credits_committed_use,
      NULL AS x_credits_sustained_use, NULL AS x_credits_promotion, NULL AS x_credits_discount,
      NULL AS x_credits_other, NULL AS x_currency_conversion_rate, model AS x_model, token_type AS x_token_type,
      'openai_costs_daily' AS x_source_table, cost_date AS x_source_partition,
      @run_id AS x_pipeline_logging_id, @ingested_at AS x_ingested_at
    FROM priced
    """


def build_openai_focus(ctx: StepContext, warehouse: Warehouse) -> int:
    """Replace the OpenAI slice (ProviderName, requested days) of cost_focus; returns the rows it now holds."""
    dataset = ctx.settings.org_dataset(ctx.org_slug)
    spec = load_table_specs(ctx.settings.config_dir, "org")[ctx.destination_table or FOCUS_TABLE]
    categories, default = service_categories(ctx.settings.config_dir, PROVIDER_NAME)
    params = {
        # The Costs API names no billing account; the org's OpenAI organization is the credential's, so the slug.
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
