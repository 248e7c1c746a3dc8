"""The per-org reconciliation views: per provider and day, the billed cost (cost_focus) against the estimate; and
per provider, day, tier and token type, each bill line against its estimate (llm_cost_estimates)."""

from __future__ import annotations

import hashlib
import re

from shared.platform.identifiers import is_org_slug
from shared.pricing.price_table import priced_providers

VIEW = "llm_cost_reconciliation"
DETAIL_VIEW = "llm_cost_reconciliation_detail"


def reconciliation_sql(dataset: str, org_slug: str, providers: dict[str, str]) -> str:
    """CREATE OR REPLACE VIEW: one row per provider, day and billing currency (estimates are USD); `providers` maps
    each priced provider to its cost_focus ProviderName.

    The view's description carries a digest of this text, so a run can tell whether the view is current."""
    body = _view_body(dataset, org_slug, providers)
    description = f"Billed (cost_focus) against estimated LLM cost per provider and day; {_digest(body)}"
    return f"CREATE OR REPLACE VIEW `{dataset}.{VIEW}` OPTIONS (description = '{description}') AS {body}"


def _digest(body: str) -> str:
    return "definition " + hashlib.sha256(body.encode()).hexdigest()[:16]


def _view_body(dataset: str, org_slug: str, providers: dict[str, str]) -> str:
    if not is_org_slug(org_slug):  # interpolated as a literal below: only a validated slug may be
        raise ValueError(f"not an org slug: {org_slug!r}")
    names = " ".join(f"WHEN {_literal(focus)} THEN {_literal(name)}" for name, focus in providers.items())
    in_list = ", ".join(_literal(focus) for focus in providers.values())
    return f"""
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


def detail_sql(dataset: str, org_slug: str) -> str:
    """CREATE OR REPLACE VIEW: one row per provider, day, billing currency, service tier and token type, the bill's
    lines against their estimates; the description carries a digest of the text, as for the daily view."""
    body = _detail_body(dataset, org_slug)
    description = f"Billed against estimated LLM cost per provider, day, tier and token type; {_digest(body)}"
    return (
        f"CREATE OR REPLACE VIEW `{dataset}.{DETAIL_VIEW}` OPTIONS (description = '{description}') AS {body}"
    )


def _detail_body(dataset: str, org_slug: str) -> str:
    if not is_org_slug(org_slug):  # interpolated as a literal below: only a validated slug may be
        raise ValueError(f"not an org slug: {org_slug!r}")
    return f"""
    SELECT '{org_slug}' AS org_slug, provider, usage_date AS day, currency,
      -- The bill's tier: null where the provider's bill does not split by tier (its tiers are summed).
      service_tier, token_type, ANY_VALUE(unit) AS unit, SUM(quantity) AS quantity,
      IFNULL(SUM(billed_cost), 0) AS billed_cost,
      SUM(estimated_cost) AS estimated_cost,  -- unpriced lines are NULL: left out, never counted as zero
      IF(currency = 'USD', IFNULL(SUM(billed_cost), 0) - IFNULL(SUM(estimated_cost), 0), NULL) AS difference,
      SUM(list_cost) AS list_cost,
      COUNTIF(status = 'unpriced') AS lines_unpriced,
      STRING_AGG(DISTINCT IF(status = 'unpriced', IFNULL(model, '(no model)'), NULL), ', ') AS unpriced_models,
      COUNTIF(status = 'billed_only') AS lines_billed_only, COUNTIF(status = 'usage_only') AS lines_not_billed
    FROM `{dataset}.llm_cost_estimates`
    GROUP BY provider, day, currency, service_tier, token_type
    """


def _literal(text: str) -> str:
    """A SQL string literal of a reviewed config value (the price table): refuse anything but plain names."""
    if not re.fullmatch(r"[A-Za-z0-9 ._-]+", text):
        raise ValueError(f"not a plain provider name: {text!r}")
    return f"'{text}'"


def ensure_reconciliation_view(warehouse, settings, org_slug: str) -> None:
    """Create the org's reconciliation views, or replace one when its definition changed (the views read the tables
    live, so a current view needs no DDL: one metadata read instead of a DDL job on every run)."""
    dataset = f"{warehouse.project}.{settings.org_dataset(org_slug)}"
    providers = priced_providers(settings.config_dir)
    _ensure(
        warehouse,
        dataset,
        VIEW,
        _view_body(dataset, org_slug, providers),
        lambda: reconciliation_sql(dataset, org_slug, providers),
    )
    _ensure(
        warehouse,
        dataset,
        DETAIL_VIEW,
        _detail_body(dataset, org_slug),
        lambda: detail_sql(dataset, org_slug),
    )


def _ensure(warehouse, dataset: str, view: str, body: str, ddl) -> None:
    from google.api_core.exceptions import NotFound

    try:
        description = warehouse.client.get_table(f"{dataset}.{view}").description or ""
    except NotFound:
        description = ""
    if _digest(body) not in description:
        warehouse.execute(ddl())
