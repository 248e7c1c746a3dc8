"""Estimated LLM cost (usage x list price x org override, NUMERIC, in SQL) beside the billed cost of each line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from shared.platform.logs import log
from shared.pricing.reconciliation import ensure_reconciliation_view

ESTIMATES_TABLE = "llm_cost_estimates"
COMMIT_RESERVE_SECONDS = 5.0
# The grain both sides are brought to before they meet: the bill's own line (day, sub-account, model, tier,
# context window, token type). A provider whose bill has no tier gives NULL bill_tier and sums its tiers' estimates.
_LINE = "usage_date, subaccount_id, model, bill_tier, bill_window, token_type"
_USAGE_KEY = "u.usage_date, u.subaccount_id, u.model, u.service_tier, u.context_window, u.token_type"


@dataclass(frozen=True)
class EstimateSources:
    """A provider's two inputs, as SQL over its own tables (`{ds}` is the org dataset, @slice_* the days).

    usage: usage_date, subaccount_id, model, service_tier, context_window, token_type, rate_type, unit, quantity,
           bill_tier, bill_window — one row per distinct (usage_date .. token_type), quantity > 0.
    billed: usage_date, subaccount_id, model, bill_tier, bill_window, token_type, currency, amount.
    """

    provider: str
    usage: str
    billed: str


def _same(column: str) -> str:
    return f"IFNULL(l.{column}, '') = IFNULL(b.{column}, '')"


def estimates_select(dataset: str, sources: EstimateSources) -> str:
    """One llm_cost_estimates row per bill line: estimate (when the price table covers it) and billed amount."""
    usage, billed = sources.usage.format(ds=dataset), sources.billed.format(ds=dataset)
    return f"""
    WITH usage AS ({usage}),
    billed AS ({billed}),
    listed AS (
      SELECT u.*, p.usd_per_million AS list_rate, p.price_version
      FROM usage AS u LEFT JOIN `{dataset}.llm_prices` AS p
        ON p.provider = @provider AND p.rate_type = u.rate_type
        AND (p.model = u.model OR p.model = '*') AND (p.service_tier = u.service_tier OR p.service_tier = '*')
        AND (p.context_window IS NULL OR p.context_window = u.context_window)
        AND u.usage_date >= p.effective_from AND (p.effective_to IS NULL OR u.usage_date < p.effective_to)
      WHERE TRUE
      -- A price for the exact model and context window beats a general one.
      QUALIFY ROW_NUMBER() OVER (PARTITION BY {_USAGE_KEY}
        ORDER BY p.model = '*', p.context_window IS NULL) = 1),
    contracted AS (
      SELECT u.*, o.override_id,
        COALESCE(o.usd_per_million, u.list_rate * (1 - IFNULL(o.discount_fraction, 0))) AS contracted_rate
      FROM listed AS u LEFT JOIN `{dataset}.llm_price_overrides` AS o
        ON o.provider = @provider AND (o.model IS NULL OR o.model = u.model)
        AND (o.service_tier IS NULL OR o.service_tier = u.service_tier)
        AND (o.rate_type IS NULL OR o.rate_type = u.rate_type)
        AND u.usage_date >= o.effective_from AND (o.effective_to IS NULL OR u.usage_date < o.effective_to)
      WHERE TRUE
      -- The most specific override wins (model, then tier, then rate named), then the latest, then the newest.
      QUALIFY ROW_NUMBER() OVER (PARTITION BY {_USAGE_KEY}
        ORDER BY IF(o.model IS NULL, 0, 4) + IF(o.service_tier IS NULL, 0, 2) + IF(o.rate_type IS NULL, 0, 1) DESC,
                 o.effective_from DESC, o.created_at DESC) = 1),
    priced AS (
      -- Per million: multiply by 1e-6 (never divide: NUMERIC division is not exact everywhere); 9 decimals.
      SELECT *, ROUND(CAST(quantity AS NUMERIC) * list_rate * NUMERIC '0.000001', 9) AS list_cost,
        ROUND(CAST(quantity AS NUMERIC) * contracted_rate * NUMERIC '0.000001', 9) AS estimated_cost
      FROM contracted),
    lines AS (
      SELECT {_LINE}, ANY_VALUE(unit) AS unit, SUM(quantity) AS quantity,
        IF(COUNT(*) = COUNT(list_rate) AND MIN(list_rate) = MAX(list_rate), MIN(list_rate), NULL) AS list_rate,
        IF(COUNT(*) = COUNT(contracted_rate) AND MIN(contracted_rate) = MAX(contracted_rate),
           MIN(contracted_rate), NULL) AS contracted_rate,
        -- A line with any unpriced part is unpriced as a whole: a partial sum would read as a complete estimate.
        IF(COUNT(*) = COUNT(list_cost), SUM(list_cost), NULL) AS list_cost,
        IF(COUNT(*) = COUNT(estimated_cost), SUM(estimated_cost), NULL) AS estimated_cost,
        MAX(price_version) AS price_version, MAX(override_id) AS override_id
      FROM priced GROUP BY {_LINE})
    SELECT COALESCE(l.usage_date, b.usage_date) AS usage_date, @provider AS provider,
      COALESCE(l.subaccount_id, b.subaccount_id) AS subaccount_id, COALESCE(l.model, b.model) AS model,
      COALESCE(l.bill_tier, b.bill_tier) AS service_tier, COALESCE(l.bill_window, b.bill_window) AS context_window,
      COALESCE(l.token_type, b.token_type) AS token_type, l.quantity, l.unit,
      l.list_rate AS list_rate_per_million, l.contracted_rate AS contracted_rate_per_million,
      l.list_cost, l.estimated_cost, b.amount AS billed_cost, IFNULL(b.currency, 'USD') AS currency,
      CASE WHEN l.usage_date IS NULL THEN 'billed_only' WHEN l.estimated_cost IS NULL THEN 'unpriced'
           WHEN b.usage_date IS NULL THEN 'usage_only' ELSE 'priced' END AS status,
      l.price_version, l.override_id, @run_id AS x_pipeline_logging_id, @ingested_at AS x_ingested_at
    FROM lines AS l FULL OUTER JOIN billed AS b
      ON l.usage_date = b.usage_date AND {_same("subaccount_id")} AND {_same("model")} AND {_same("bill_tier")}
      AND {_same("bill_window")} AND {_same("token_type")}
    """


def unpriced_models_sql(table: str) -> str:
    """An expression: the models with usage the price table does not cover in the slice of @provider (ARRAY)."""
    return f"""ARRAY(SELECT DISTINCT IFNULL(model, '(no model)') AS model FROM `{table}`
        WHERE provider = @provider AND status = 'unpriced' AND usage_date BETWEEN @slice_start AND @slice_end
        ORDER BY model)"""


def estimate_processor(sources: EstimateSources):
    """A `run` processor replacing the provider's slice of llm_cost_estimates; unpriced models are logged."""

    def estimate(ctx, warehouse) -> int:
        from shared.warehouse.schemas import load_table_specs

        dataset = ctx.settings.org_dataset(ctx.org_slug)
        spec = load_table_specs(ctx.settings.config_dir, "org")[ctx.destination_table or ESTIMATES_TABLE]
        params = {"provider": sources.provider, "run_id": ctx.run_id, "ingested_at": datetime.now(UTC)}
        ctx.ensure_time_left(COMMIT_RESERVE_SECONDS, "the cost estimates")
        answer = warehouse.replace_slice_and_report(
            dataset,
            spec,
            estimates_select(f"{warehouse.project}.{dataset}", sources),
            params,
            ctx.start_date,
            ctx.end_date,
            match={"provider": sources.provider},
            report={"unpriced": unpriced_models_sql(warehouse.table_id(dataset, spec.name))},
        )
        written, missing = answer["n"], list(answer["unpriced"] or [])
        if missing:
            # Not an error: the run completes, the rows say 'unpriced' and the reconciliation shows the gap.
            log(
                "WARNING",
                f"{sources.provider} models missing from the price table: {', '.join(missing)}",
                org_slug=ctx.org_slug,
                pipeline_logging_id=ctx.run_id,
                unpriced_models=missing,
            )
        ensure_reconciliation_view(warehouse, ctx.settings, ctx.org_slug)
        return written

    return estimate
