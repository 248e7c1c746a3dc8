"""Anthropic's inputs to the cost estimate: usage per token type, and the cost report's lines, as SQL."""

from __future__ import annotations

from shared.pricing.estimates import EstimateSources
from shared.pricing.price_table import GEO_MODEL

# (cost report token_type, price table rate, unit, usage column). Web search is billed per request, whatever the
# model: its line has no model, tier or window on either side.
TOKEN_TYPES = (
    ("uncached_input_tokens", "input", "tokens", "uncached_input_tokens"),
    ("cache_read_input_tokens", "cache_read", "tokens", "cache_read_input_tokens"),
    (
        "cache_creation.ephemeral_5m_input_tokens",
        "cache_write_5m",
        "tokens",
        "cache_creation_5m_input_tokens",
    ),
    (
        "cache_creation.ephemeral_1h_input_tokens",
        "cache_write_1h",
        "tokens",
        "cache_creation_1h_input_tokens",
    ),
    ("output_tokens", "output", "tokens", "output_tokens"),
    ("web_search", "web_search", "requests", "web_search_requests"),
)
# Inference geos billed at the model's list price: "global" (the default) and "not_available" (a model that cannot
# choose). Any other ("us": 1.1x on Opus 4.6 and newer) is priced by the table's entry for that geo, if it has one
# (price_table.GEO_MODEL: the model named with its geo, as here), else reported unpriced under that name.
LIST_PRICE_GEOS = ("global", "not_available")
_GEO_BEFORE, _GEO_AFTER = GEO_MODEL.format(model="", geo="\0").split("\0")


def priced_line(src: str, day: str, ds: str) -> tuple[str, str]:
    """(LEFT JOINs, the line's model): the model, named with the tier or inference geo the price table does not
    price, so that usage is reported unpriced by name (in the estimate and the run's warning) and its estimate
    line never shares a price with the model's standard usage. `src` is the alias of a row with model,
    service_tier and inference_geo; `day` its date column; `ds` the org dataset."""
    # Since when the table prices the model at all, and at this tier (a closed period is not looked at: such usage
    # still finds no price, and is unpriced under the model's name).
    joins = f"""
      LEFT JOIN (SELECT model, MIN(effective_from) AS since FROM `{ds}.llm_prices`
                 WHERE provider = 'anthropic' GROUP BY model) AS pm
        ON pm.model = {src}.model AND {src}.{day} >= pm.since
      LEFT JOIN (SELECT model, service_tier, MIN(effective_from) AS since FROM `{ds}.llm_prices`
                 WHERE provider = 'anthropic' GROUP BY model, service_tier) AS pt
        ON pt.model = {src}.model AND pt.service_tier = {src}.service_tier AND {src}.{day} >= pt.since"""
    geos = ", ".join(f"'{geo}'" for geo in LIST_PRICE_GEOS)
    model = f"""IF({src}.model IS NULL, NULL, CONCAT({src}.model,
        IF(IFNULL({src}.inference_geo, 'global') IN ({geos}), '',
           CONCAT('{_GEO_BEFORE}', {src}.inference_geo, '{_GEO_AFTER}')),
        IF(pm.model IS NOT NULL AND pt.model IS NULL AND {src}.service_tier IS NOT NULL,
           CONCAT(' (service_tier ', {src}.service_tier, ')'), '')))"""
    return joins, model


_STRUCTS = ",\n        ".join(
    f"STRUCT('{token}' AS token_type, '{rate}' AS rate_type, '{unit}' AS unit, u0.{column} AS quantity)"
    for token, rate, unit, column in TOKEN_TYPES
)
_PER_TOKEN = "t.rate_type != 'web_search'"
_USAGE_JOINS, _USAGE_MODEL = priced_line("u", "usage_date", "{ds}")
_COST_JOINS, _COST_MODEL = priced_line("c", "cost_date", "{ds}")

USAGE_SQL = f"""
    SELECT usage_date, workspace_label AS subaccount_id, IF({_PER_TOKEN}, line_model, NULL) AS model, service_tier,
      context_window, t.token_type, t.rate_type, t.unit, SUM(t.quantity) AS quantity,
      IF({_PER_TOKEN}, service_tier, NULL) AS bill_tier, IF({_PER_TOKEN}, context_window, NULL) AS bill_window
    FROM (
      SELECT u.*, {_USAGE_MODEL} AS line_model
      FROM `{{ds}}.anthropic_usage_daily` AS u {_USAGE_JOINS}
      WHERE u.usage_date BETWEEN @slice_start AND @slice_end) AS u0
    CROSS JOIN UNNEST([
        {_STRUCTS}]) AS t
    WHERE t.quantity > 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 10, 11
"""
BILLED_SQL = f"""
    SELECT cost_date AS usage_date, workspace_label AS subaccount_id,
      IF(cost_type = 'tokens', line_model, NULL) AS model, IF(cost_type = 'tokens', service_tier, NULL) AS bill_tier,
      IF(cost_type = 'tokens', context_window, NULL) AS bill_window,
      IF(cost_type = 'tokens', token_type, cost_type) AS token_type, currency, SUM(amount) AS amount
    FROM (
      SELECT c.*, {_COST_MODEL} AS line_model
      FROM `{{ds}}.anthropic_costs_daily` AS c {_COST_JOINS}
      WHERE c.cost_date BETWEEN @slice_start AND @slice_end) AS c0
    GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

SOURCES = EstimateSources(provider="anthropic", usage=USAGE_SQL, billed=BILLED_SQL)
