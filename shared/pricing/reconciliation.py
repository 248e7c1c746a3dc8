"""The per-org reconciliation view: per provider and day, the billed cost (cost_focus) against the estimate."""

from __future__ import annotations

from shared.identifiers import is_org_slug

VIEW = "llm_cost_reconciliation"
# cost_focus ProviderName → the provider names of llm_cost_estimates.
PROVIDER_NAMES = {"OpenAI": "openai", "Anthropic": "anthropic"}


def reconciliation_sql(dataset: str, org_slug: str) -> str:
    """CREATE OR REPLACE VIEW: one row per provider, day and billing currency (estimates are USD)."""
    if not is_org_slug(org_slug):  # interpolated as a literal below: only a validated slug may be
        raise ValueError(f"not an org slug: {org_slug!r}")
    names = " ".join(f"WHEN '{focus}' THEN '{name}'" for focus, name in PROVIDER_NAMES.items())
    in_list = ", ".join(f"'{focus}'" for focus in PROVIDER_NAMES)
    return f"""
    CREATE OR REPLACE VIEW `{dataset}.{VIEW}` AS
    WITH billed AS (
      SELECT CASE ProviderName {names} END AS provider, DATE(ChargePeriodStart) AS day,
        BillingCurrency AS currency, SUM(BilledCost) AS billed_cost
      FROM `{dataset}.cost_focus` WHERE ProviderName IN ({in_list})
      GROUP BY provider, day, currency),
    estimated AS (
      SELECT provider, usage_date AS day,
        SUM(estimated_cost) AS estimated_cost,  -- unpriced lines are NULL: left out, never counted as zero
        SUM(list_cost) AS list_cost,
        SUM(IF(status = 'unpriced', billed_cost, NULL)) AS billed_unpriced,
        SUM(IF(status = 'unpriced', quantity, NULL)) AS unpriced_quantity,
        SUM(IF(status = 'billed_only', billed_cost, NULL)) AS billed_without_usage,
        COUNTIF(status = 'usage_only') AS lines_not_billed
      FROM `{dataset}.llm_cost_estimates` GROUP BY provider, day),
    unpriced AS (
      SELECT provider, day, STRING_AGG(model, ', ' ORDER BY model) AS unpriced_models
      FROM (SELECT DISTINCT provider, usage_date AS day, IFNULL(model, '(no model)') AS model
            FROM `{dataset}.llm_cost_estimates` WHERE status = 'unpriced')
      GROUP BY provider, day)
    SELECT '{org_slug}' AS org_slug, COALESCE(b.provider, e.provider) AS provider, COALESCE(b.day, e.day) AS day,
      IFNULL(b.currency, 'USD') AS currency, IFNULL(b.billed_cost, 0) AS billed_cost,
      IFNULL(e.estimated_cost, 0) AS estimated_cost,
      -- billed - estimated; only where both are in USD (the price table's currency).
      IF(IFNULL(b.currency, 'USD') = 'USD', IFNULL(b.billed_cost, 0) - IFNULL(e.estimated_cost, 0), NULL)
        AS difference,
      e.list_cost, e.billed_unpriced, e.unpriced_quantity, u.unpriced_models, e.billed_without_usage,
      e.lines_not_billed
    FROM billed AS b
    FULL OUTER JOIN estimated AS e ON e.provider = b.provider AND e.day = b.day AND b.currency = 'USD'
    LEFT JOIN unpriced AS u ON u.provider = COALESCE(b.provider, e.provider) AND u.day = COALESCE(b.day, e.day)
    """


def ensure_reconciliation_view(warehouse, settings, org_slug: str) -> None:
    """Create or replace the org's reconciliation view (idempotent DDL; the view reads the tables live)."""
    dataset = f"{warehouse.project}.{settings.org_dataset(org_slug)}"
    warehouse.execute(reconciliation_sql(dataset, org_slug))
