"""Granted mode's transform: the export's rows → gcp_billing_daily and cost_focus rows as BigQuery SQL, run where the
export is. The same mapping as transform.py and focus.py (the Python path of key mode), built from the same
constants; tests/golden/test_gcp_granted_golden.py checks both give identical rows, column by column."""

from __future__ import annotations

from pathlib import Path

from shared.providers.gcp import commitments as cud
from shared.providers.gcp import constants as gcp
from shared.providers.gcp.focus import CHARGE_CATEGORY, PACIFIC
from shared.providers.gcp.sql import source_select_list
from shared.providers.gcp.units import focus_unit
from shared.providers.kit.focus import service_classes

ZERO = "NUMERIC '0'"


def _quote(text: str) -> str:
    """A SQL string literal of one of our own constants (never of customer data: that goes in parameters)."""
    if "'" in text or "\\" in text:
        raise ValueError(f"constant {text!r} cannot be a literal")
    return f"'{text}'"


def _in_list(values) -> str:
    return ", ".join(map(_quote, values))


def _numeric(value: str) -> str:
    """FLOAT64 → NUMERIC, exactly: value = high × 2**32 + whole + fraction, each part exact in FLOAT64, so the sum is
    what CAST gives in BigQuery, also on an engine whose cast scales by 10**9 in FLOAT64 (the local stand-in's
    DuckDB turns 122023874050560.0 into 122023874050560.00393216)."""
    high = f"TRUNC({value} / 4294967296)"
    low = f"({value} - {high} * 4294967296)"
    return (
        f"(CAST(CAST({high} AS INT64) AS NUMERIC) * 4294967296 + CAST(CAST(TRUNC({low}) AS INT64) AS NUMERIC) "
        f"+ CAST({low} - TRUNC({low}) AS NUMERIC))"
    )


def raw_select(export_id: str, present: set[str], where: str) -> str:
    """gcp_billing_daily rows (its columns, in order) of the export rows `where` selects: money FLOAT64 → NUMERIC
    once, as transform.raw_rows does."""
    credits_total = f"IFNULL((SELECT SUM({_numeric('c.amount')}) FROM UNNEST(s.credits) AS c), 0)"
    cost = _numeric("s.cost")
    return f"""
    SELECT s.partition_date, DATE(s.usage_start_time) AS usage_date, s.billing_account_id, s.service, s.sku,
      s.usage_start_time, s.usage_end_time, s.project, s.labels, s.system_labels, s.location, s.export_time,
      {cost} AS cost, s.currency,
      {_numeric("s.currency_conversion_rate")} AS currency_conversion_rate,
      IF(s.usage IS NULL, NULL, STRUCT({_numeric("s.usage.amount")} AS amount, s.usage.unit AS unit,
        {_numeric("s.usage.amount_in_pricing_units")} AS amount_in_pricing_units,
        s.usage.pricing_unit AS pricing_unit)) AS usage,
      ARRAY(SELECT AS STRUCT c.name AS name, {_numeric("c.amount")} AS amount, c.full_name AS full_name,
        c.id AS id, c.type AS type FROM UNNEST(s.credits) AS c WITH OFFSET AS o ORDER BY o) AS credits,
      {credits_total} AS credits_total,
      {cost} + {credits_total} AS net_cost,
      s.invoice, s.cost_type, s.adjustment_info, {_numeric("s.cost_at_list")} AS cost_at_list,
      s.transaction_type, s.seller_name, s.resource, s.price, s.consumption_model,
      {_numeric("s.cost_at_effective_price_default")} AS cost_at_effective_price_default, s.tags,
      @x_source_table AS x_source_table, @x_pipeline_logging_id AS x_pipeline_logging_id,
      @x_ingested_at AS x_ingested_at
    FROM (SELECT {source_select_list(present)} FROM `{export_id}` WHERE {where}) AS s"""


def lookup_params(config_dir: Path, units: list[str]) -> dict:
    """The query parameters of the lookups the SQL joins: FOCUS units of the export's own unit names (customer
    data: parameters, never literals) and the service categories of configs/focus/service_categories.yml."""
    mapped = {unit: focus_unit(unit) for unit in units if unit is not None}
    mapped = {unit: text for unit, text in mapped.items() if text is not None}
    classes, default = service_classes(config_dir, gcp.PROVIDER_NAME)
    return {
        "unit_names": list(mapped),
        "unit_focus": list(mapped.values()),
        "service_names": list(classes),
        "service_categories": [category for category, _ in classes.values()],
        "service_subcategories": [subcategory for _, subcategory in classes.values()],
        "default_category": default[0],
        "default_subcategory": default[1],
    }


def _pairs(name: str, left: str, right: str) -> str:
    return (
        f"{name} AS (SELECT a AS {left}, b AS {right} FROM UNNEST(@{left}) AS a WITH OFFSET AS i "
        f"JOIN UNNEST(@{right}) AS b WITH OFFSET AS j ON i = j)"
    )


def _credit_sum(condition: str) -> str:
    return f"SUM(IF({condition}, c.amount, 0))"


def _tags() -> str:
    """Tags as JSON text of a label set `l` (labels, project_labels, system_labels, tags): resource labels, then
    project labels, system labels and Resource Manager tags ("<namespace>/<key>"); the first list holding a key
    wins it; keys sorted (arrowkit.json_objects)."""
    lists = (
        "SELECT i.key AS k, i.value AS v, 0 AS p, o FROM UNNEST(l.labels) AS i WITH OFFSET AS o",
        "SELECT i.key, i.value, 1, o FROM UNNEST(l.project_labels) AS i WITH OFFSET AS o",
        "SELECT i.key, i.value, 2, o FROM UNNEST(l.system_labels) AS i WITH OFFSET AS o",
        (
            "SELECT CONCAT(IFNULL(t.namespace, ''), '/', t.key), t.value, 3, o FROM UNNEST(l.tags) AS t "
            "WITH OFFSET AS o"
        ),
    )
    return f"""(SELECT CONCAT('{{', IFNULL(STRING_AGG(CONCAT(TO_JSON_STRING(k), ':', TO_JSON_STRING(v)), ','
        ORDER BY k), ''), '}}')
      FROM (SELECT k, ARRAY_AGG(STRUCT(v AS v) ORDER BY p, o LIMIT 1)[OFFSET(0)].v AS v
            FROM ({" UNION ALL ".join(lists)}) WHERE k IS NOT NULL GROUP BY k))"""


def _label_set_ctes(raw: str) -> str:
    """Each row's label set as a key, and the Tags of each distinct set: label sets repeat across rows, so the
    JSON is built once per set (as arrowkit.json_objects does), not once per row."""
    return f"""
    labelled AS (
      SELECT r.*, TO_JSON_STRING(STRUCT(r.labels AS a, r.project.labels AS b, r.system_labels AS c, r.tags AS d))
        AS _label_set
      FROM `{raw}` AS r),
    label_sets AS (
      SELECT _label_set, ANY_VALUE(STRUCT(labels AS labels, project.labels AS project_labels, system_labels AS system_labels,
        tags AS tags)) AS l
      FROM labelled GROUP BY _label_set),
    tag_texts AS (SELECT _label_set, {_tags()} AS _tags FROM label_sets),
    tag_values AS (SELECT _label_set, _tags, PARSE_JSON(_tags) AS _tags_json FROM tag_texts)"""


def _kinds_cte() -> str:
    """Per raw row: its credit sums (one pass over its credits) and what commitments.row_kinds computes (fee,
    kind, weight, model)."""
    groups = ",\n          ".join(
        f"{_credit_sum(f'c.type IN ({_in_list(types)})')} AS {column}"
        for column, types in gcp.CREDIT_GROUPS.items()
    )
    known = [kind for types in gcp.CREDIT_GROUPS.values() for kind in types]
    sums = ", ".join(["_offset", "_spend", "_resource", *gcp.CREDIT_GROUPS, "x_credits_other"])
    return f"""
    k1 AS (
      SELECT r.*, tag_values._tags, tag_values._tags_json, IFNULL(r.cost_type, 'regular') = 'regular' AS _regular,
        IFNULL(r.sku.description, '') AS _description,
        (SELECT AS STRUCT
          -{_credit_sum(f"c.type = {_quote(cud.FEE_OFFSET)}")} AS _offset,
          -{_credit_sum(f"c.type = {_quote(cud.SPEND_CREDIT)}")} AS _spend,
          -{_credit_sum(f"c.type = {_quote(cud.RESOURCE_CREDIT)}")} AS _resource,
          {groups},
          {_credit_sum(f"c.type IS NULL OR c.type NOT IN ({_in_list(known)})")} AS x_credits_other
         FROM UNNEST(r.credits) AS c) AS _sums,
        r.consumption_model.id IS NOT NULL
          AND LOWER(IFNULL(r.consumption_model.description, {_quote(cud.DEFAULT_MODEL)}))
            != {_quote(cud.DEFAULT_MODEL)} AS _cud_model
      FROM labelled AS r JOIN tag_values USING (_label_set)),
    k2 AS (
      SELECT * EXCEPT (_sums), {", ".join(f"IFNULL(_sums.{name}, 0) AS {name}" for name in sums.split(", "))},
        _regular AND STARTS_WITH(_description, {_quote(cud.FEE_PREFIX)}) AS _fee
      FROM k1),
    k3 AS (
      SELECT *, CASE
          WHEN _regular AND _cud_model THEN 'model'
          WHEN _fee AND (STARTS_WITH(_description, {_quote(cud.SPEND_FEE_PREFIX)}) OR _offset != 0) THEN 'spend'
          WHEN _fee THEN 'resource'
          WHEN _regular AND _spend != 0 THEN 'spend'
          WHEN _regular AND _resource != 0 THEN 'resource'
        END AS _kind
      FROM k2)"""


def _period(month: str, end: bool) -> str:
    first = f"DATE(CAST(SUBSTR({month}, 1, 4) AS INT64), CAST(SUBSTR({month}, 5, 2) AS INT64), 1)"
    day = f"DATE_ADD({first}, INTERVAL 1 MONTH)" if end else first
    return f"TIMESTAMP({day}, {_quote(PACIFIC.key)})"


def _category() -> str:
    cases = " ".join(f"WHEN {_quote(t)} THEN {_quote(c)}" for t, c in CHARGE_CATEGORY.items())
    return f"CASE IFNULL(r.cost_type, 'regular') {cases} ELSE 'Usage' END"


def _pool_name() -> str:
    legacy = " ".join(
        f"WHEN {_quote(kind)} THEN {_quote(f'commitments/{kind}-based')}" for kind in list(cud.KINDS)[1:]
    )
    return (
        f"CASE r._kind WHEN 'model' THEN CONCAT('consumptionModels/', IFNULL(r.consumption_model.id, '')) "
        f"{legacy} END"
    )


def _kind_attribute(position: int) -> str:
    cases = " ".join(f"WHEN {_quote(k)} THEN {_quote(v[position])}" for k, v in cud.KINDS.items())
    return f"CASE r._kind {cases} END"


def _focus_cte() -> str:
    """Every cost_focus column but EffectiveCost (focus.py's _charge_columns, _quantities, _service_columns,
    _commitment_columns, _credit_columns), plus what the allocation needs (_fee, _kind, _weight, _net)."""
    month, start, end = "r.invoice.month", "r.usage_start_time", "r.usage_end_time"
    tax = "IFNULL(r.cost_type = 'tax', FALSE)"
    usage_row = "(r._regular AND NOT r._fee)"
    priced = f"(NOT {tax} AND pricing.unit_focus IS NOT NULL AND r.usage.amount_in_pricing_units IS NOT NULL)"
    consumed = f"({usage_row} AND consumed.unit_focus IS NOT NULL AND r.usage.amount IS NOT NULL)"
    credit_columns = ", ".join(f"r.{name}" for name in (*gcp.CREDIT_GROUPS, "x_credits_other"))
    provider = _quote(gcp.PROVIDER_NAME)
    return f"""
    f AS (
      SELECT r.billing_account_id AS BillingAccountId, CAST(NULL AS STRING) AS BillingAccountName,
        r.project.id AS SubAccountId, r.project.name AS SubAccountName, r.currency AS BillingCurrency,
        {_period(month, False)} AS BillingPeriodStart, {_period(month, True)} AS BillingPeriodEnd,
        CONCAT(r.billing_account_id, '/', {month}) AS InvoiceId,
        {start} AS ChargePeriodStart,
        IF({end} > {start}, {end}, TIMESTAMP_ADD({start}, INTERVAL 1 HOUR)) AS ChargePeriodEnd,
        IF(r._fee, 'Purchase', {_category()}) AS ChargeCategory,
        IF(IFNULL(r.cost_type = 'adjustment', FALSE) AND IFNULL({start} < {_period(month, False)}, FALSE),
          'Correction', NULL) AS ChargeClass,
        COALESCE(r.adjustment_info.description, r.sku.description, r.service.description) AS ChargeDescription,
        IF(r._fee, 'Recurring', IF(r._regular, 'Usage-Based', 'One-Time')) AS ChargeFrequency,
        r.net_cost AS BilledCost,
        COALESCE(r.cost_at_list, r.cost) AS ListCost,
        COALESCE(r.cost_at_effective_price_default, r.cost) AS ContractedCost,
        IF({priced}, r.usage.amount_in_pricing_units, NULL) AS PricingQuantity,
        IF({priced}, pricing.unit_focus, NULL) AS PricingUnit,
        IF({consumed}, r.usage.amount, NULL) AS ConsumedQuantity,
        IF({consumed}, consumed.unit_focus, NULL) AS ConsumedUnit,
        {provider} AS ProviderName,
        IF(r.seller_name IS NULL OR r.seller_name = 'Google', {provider}, r.seller_name) AS PublisherName,
        {provider} AS InvoiceIssuerName,
        IFNULL(service.service_categories, @default_category) AS ServiceCategory,
        IFNULL(r.service.description, {provider}) AS ServiceName,
        IFNULL(service.service_subcategories, @default_subcategory) AS ServiceSubcategory,
        IF({tax}, NULL, r.sku.id) AS SkuId,
        r.location.region AS RegionId, r.location.region AS RegionName, r.location.zone AS AvailabilityZone,
        r.resource.global_name AS ResourceId, r.resource.name AS ResourceName,
        r._tags AS Tags, r._tags_json,
        CONCAT('billingAccounts/', r.billing_account_id, '/', {_pool_name()}) AS CommitmentDiscountId,
        {_kind_attribute(1)} AS CommitmentDiscountCategory,
        {_kind_attribute(2)} AS CommitmentDiscountType,
        IF(r._kind IS NOT NULL AND NOT r._fee, 'Used', NULL) AS CommitmentDiscountStatus,
        r.cost_type AS x_cost_type, r.credits_total AS x_credits_total, {credit_columns},
        r.currency_conversion_rate AS x_currency_conversion_rate,
        CAST(NULL AS STRING) AS x_model, CAST(NULL AS STRING) AS x_token_type,
        'gcp_billing_daily' AS x_source_table, r.partition_date AS x_source_partition,
        @x_pipeline_logging_id AS x_pipeline_logging_id, @x_ingested_at AS x_ingested_at,
        r._fee, r._kind, r.net_cost AS _net,
        CASE r._kind WHEN 'spend' THEN r._spend WHEN 'resource' THEN r._resource ELSE {ZERO} END AS _weight
      FROM k3 AS r
      LEFT JOIN units AS pricing ON pricing.unit_names = r.usage.pricing_unit
      LEFT JOIN units AS consumed ON consumed.unit_names = r.usage.unit
      LEFT JOIN services AS service ON service.service_names = r.service.description)"""


def _order(descending: bool) -> str:
    direction = "DESC NULLS LAST" if descending else "ASC NULLS FIRST"
    return ", ".join(f"{name} {direction}" for name in cud.ORDER_COLUMNS)


def _allocation_ctes() -> str:
    """commitments.allocate in SQL, over the rows of a commitment pool only: per pool-hour (pool, currency, hour)
    the net fee, the covered credits, each covered legacy row's share (fee × credit / credits, half to even at 9
    decimals, by long division on INT64 nanos in base-256 digits so no product overflows: past the limit in
    commitments.SHARE_LIMIT_NANOS the job fails with an overflow, never a wrong amount), the remainder on the
    last row, and the first fee of a pool-hour whose commitment no usage carried."""
    pool = "PARTITION BY CommitmentDiscountId, BillingCurrency, ChargePeriodStart"
    nanos = "1000000000"
    steps, previous = [], "a3"
    for step in range(8):  # a credit < 2**64 nanos in eight base-256 digits, most significant first
        # Operands in parentheses: the stand-in writes DIV(a, b) as `a // b`, whose precedence binds tighter.
        digit = f"MOD(DIV((_b), {256 ** (7 - step)}), 256)"
        # New names per digit: a name reused within one SELECT binds differently across engines.
        q, x = f"_q{step}", f"(_r{step} * 256 + _a * {digit})"
        steps.append(
            f"d{step} AS (SELECT *, {q} * 256 + DIV({x}, _t) AS _q{step + 1}, MOD({x}, _t) AS _r{step + 1} "
            f"FROM {previous})"
        )
        previous = f"d{step}"
    return f"""
    a1 AS (
      SELECT *, NOT _fee AND _kind != 'model' AND _weight > 0 AS _covered,
        SUM(IF(_fee, _net, {ZERO})) OVER ({pool}) AS _fee_net,
        COUNTIF(_fee) OVER ({pool}) AS _fees
      FROM f),
    a2 AS (
      SELECT *,
        SUM(IF(_covered, _weight, {ZERO})) OVER ({pool}) AS _total,
        COUNTIF(_covered) OVER ({pool}) > 0 AND _fees > 0 AND _kind != 'model' AS _allocating,
        ROW_NUMBER() OVER ({pool}, _covered ORDER BY {_order(True)}) AS _from_last,
        ROW_NUMBER() OVER ({pool}, _fee ORDER BY {_order(False)}) AS _from_first
      FROM a1),
    a3 AS (
      SELECT *, CAST(0 AS INT64) AS _q0, CAST(0 AS INT64) AS _r0,
        IF(_covered, CAST(ABS(_fee_net) * {nanos} AS INT64), 0) AS _a,
        IF(_covered, CAST(_weight * {nanos} AS INT64), 0) AS _b,
        IF(_covered, CAST(_total * {nanos} AS INT64), 1) AS _t
      FROM a2),
    {",\n    ".join(steps)},
    a4 AS (
      SELECT *, SIGN(_fee_net) * CAST(_q8 + IF(2 * _r8 > _t OR (2 * _r8 = _t AND MOD((_q8), 2) = 1), 1, 0)
          AS NUMERIC) * NUMERIC '0.000000001' AS _share
      FROM {previous}),
    a5 AS (
      SELECT *, SUM(IF(_covered AND _allocating, _share, {ZERO})) OVER ({pool}, _covered) AS _shares
      FROM a4)"""


def focus_rows_select(raw: str) -> str:
    """Per gcp_billing_daily row in table `raw`: every cost_focus column but EffectiveCost (Tags as JSON text), and
    what the commitment allocation needs. The first of the granted load's two FOCUS statements."""
    return f"""
    WITH {_pairs("units", "unit_names", "unit_focus")},
    services AS (SELECT a AS service_names, b AS service_categories, c AS service_subcategories
      FROM UNNEST(@service_names) AS a WITH OFFSET AS i
      JOIN UNNEST(@service_categories) AS b WITH OFFSET AS j ON i = j
      JOIN UNNEST(@service_subcategories) AS c WITH OFFSET AS k ON i = k),
    {_label_set_ctes(raw)},
    {_kinds_cte()},
    {_focus_cte()}
    SELECT * FROM f"""


def pools_select(rows: str) -> str:
    """The rows of a commitment pool (from `focus_rows_select`'s table `rows`) with their allocation: the
    granted load's second FOCUS statement (a table of its own: an engine may evaluate a shared CTE per reader)."""
    return f"""
    WITH f AS (SELECT * FROM `{rows}` WHERE CommitmentDiscountId IS NOT NULL),
    {_allocation_ctes()}
    SELECT * FROM a5"""


def focus_select(rows: str, pools: str, focus_columns: tuple[str, ...]) -> str:
    """cost_focus rows (`focus_columns`, in order; Tags as JSON): each row of `rows` outside a commitment pool,
    each row of `pools` with its EffectiveCost, and one per pool-hour whose commitment no usage carried
    (focus.focus_rows)."""
    effective = f"""CAST(CASE
        WHEN _covered AND _allocating THEN _net + IF(_from_last = 1, _fee_net - (_shares - _share), _share)
        WHEN _fee THEN {ZERO} ELSE _net END AS NUMERIC)"""
    unused = {
        "ChargeCategory": "'Usage'",
        "ChargeFrequency": "'Usage-Based'",
        "ChargeDescription": "CONCAT('Unused commitment: ', IFNULL(ChargeDescription, ''))",
        "BilledCost": ZERO,
        "EffectiveCost": "_fee_net",
        "ListCost": ZERO,
        "ContractedCost": ZERO,
        "PricingQuantity": ZERO,
        "PricingUnit": "IFNULL(PricingUnit, 'Units')",
        "CommitmentDiscountStatus": "'Unused'",
        "x_cost_type": "'unused_commitment'",
        **{name: ZERO for name in ("x_credits_total", *gcp.CREDIT_GROUPS, "x_credits_other")},
    }

    def columns(overrides: dict) -> str:
        chosen = {"Tags": "_tags_json", **overrides}  # parsed once per label set
        return ", ".join(f"{chosen.get(name, name)} AS {name}" for name in focus_columns)

    return f"""
    SELECT {columns({"EffectiveCost": "_net"})} FROM `{rows}` WHERE CommitmentDiscountId IS NULL
    UNION ALL
    SELECT {columns({"EffectiveCost": effective})} FROM `{pools}`
    UNION ALL
    SELECT {columns(unused)} FROM `{pools}`
    WHERE _fee AND _from_first = 1 AND NOT _allocating AND _fee_net != 0"""
