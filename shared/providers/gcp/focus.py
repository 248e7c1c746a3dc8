"""FOCUS mapping: gcp_billing_daily rows → cost_focus rows (vectorised): one per export row, plus one per CUD pool-hour
left unused (see commitments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from shared.providers.gcp import commitments as cud
from shared.providers.gcp import constants as gcp
from shared.providers.gcp.units import focus_unit
from shared.providers.kit.arrowkit import (
    NUMERIC,
    constant,
    field,
    flat_parents,
    json_objects,
    map_values,
    per_row_sum,
    row_numbers,
)
from shared.providers.kit.focus import service_classes

PACIFIC = ZoneInfo("America/Los_Angeles")  # Google's invoice months are Pacific-time months
CHARGE_CATEGORY = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding_error": "Adjustment",
}
TIMESTAMP = pa.timestamp("us", tz="UTC")


def billing_period(month: str | None, end: bool) -> datetime | None:
    """Start (or exclusive end) of the Pacific-time invoice month "YYYYMM", as a UTC instant."""
    if month is None:
        return None
    year, number = int(month[:4]), int(month[4:6]) + (1 if end else 0)
    year, number = year + (number - 1) // 12, (number - 1) % 12 + 1
    return datetime(year, number, 1, tzinfo=PACIFIC).astimezone(UTC)


def _regular(cost_type: pa.Array) -> pa.Array:
    return pc.fill_null(pc.equal(pc.fill_null(cost_type, "regular"), "regular"), False)


def invoice_id(account: str | None, month: str | None) -> str | None:
    """The invoice a row is on: Google issues one invoice per billing account and invoice month, and the export
    names no invoice number, so the id is the pair, "<billing account>/<YYYYMM>"."""
    return None if account is None or month is None else f"{account}/{month}"


def _quantities(raw: pa.Table, cost_type: pa.Array, usage_rows: pa.Array) -> dict:
    # FOCUS: no quantity for Tax, none without its unit; consumption only for usage; units in UnitFormat.
    usage, null = raw["usage"].combine_chunks(), pa.nulls(raw.num_rows, NUMERIC)
    pricing_unit = map_values(field(usage, "pricing_unit"), focus_unit, pa.string())
    unit = map_values(field(usage, "unit"), focus_unit, pa.string())
    pricing, amount = field(usage, "amount_in_pricing_units"), field(usage, "amount")
    not_tax = pc.invert(pc.fill_null(pc.equal(cost_type, "tax"), False))
    priced = pc.and_(not_tax, pc.and_(pc.is_valid(pricing_unit), pc.is_valid(pricing)))
    consumed = pc.and_(usage_rows, pc.and_(pc.is_valid(unit), pc.is_valid(amount)))
    return {
        "PricingQuantity": pc.if_else(priced, pricing, null),
        "PricingUnit": pc.if_else(priced, pricing_unit, pa.nulls(raw.num_rows, pa.string())),
        "ConsumedQuantity": pc.if_else(consumed, amount, null),
        "ConsumedUnit": pc.if_else(consumed, unit, pa.nulls(raw.num_rows, pa.string())),
    }


def _credit_columns(raw: pa.Table) -> dict:
    items, parents = flat_parents(raw["credits"].combine_chunks())
    kinds, amounts = field(items, "type"), field(items, "amount")
    columns = {"x_credits_total": raw["credits_total"].combine_chunks()}
    for column, group in gcp.CREDIT_GROUPS.items():
        columns[column] = per_row_sum(raw.num_rows, parents, amounts, pc.is_in(kinds, pa.array(group)))
    known = pa.array([kind for group in gcp.CREDIT_GROUPS.values() for kind in group])
    columns["x_credits_other"] = per_row_sum(
        raw.num_rows, parents, amounts, pc.invert(pc.is_in(kinds, known))
    )
    return columns


def _charge_columns(col: dict, fee: pa.Array) -> dict:
    """Accounts, periods and the kind of charge; `fee`: the commitment fee rows (Purchase, Recurring)."""
    cost_type, start, end = col["cost_type"], col["usage_start_time"], col["usage_end_time"]
    month = field(col["invoice"], "month")
    period_start = map_values(month, lambda m: billing_period(m, False), TIMESTAMP)
    category = map_values(cost_type, lambda t: CHARGE_CATEGORY.get(t or "regular", "Usage"), pa.string())
    frequency = pc.if_else(_regular(cost_type), "Usage-Based", "One-Time")
    # A correction of an already invoiced period: an adjustment of usage before its invoice month began. An
    # adjustment within its own invoice month corrects nothing invoiced yet (FOCUS: ChargeClass null).
    earlier = pc.fill_null(pc.less(start, period_start), False)
    adjustment = pc.fill_null(pc.equal(cost_type, "adjustment"), False)
    return {
        "BillingAccountId": col["billing_account_id"],
        "BillingAccountName": pa.nulls(len(cost_type), pa.string()),
        "SubAccountId": field(col["project"], "id"),
        "SubAccountName": field(col["project"], "name"),
        "BillingCurrency": col["currency"],
        "BillingPeriodStart": period_start,
        "BillingPeriodEnd": map_values(month, lambda m: billing_period(m, True), TIMESTAMP),
        "InvoiceId": pc.binary_join_element_wise(col["billing_account_id"], month, "/"),
        "ChargePeriodStart": start,
        # FOCUS needs an end after the start; a zero-length export row (seen on some tax rows) gets its hour.
        "ChargePeriodEnd": pc.if_else(
            pc.greater(end, start), end, pc.add(start, pa.scalar(timedelta(hours=1)))
        ),
        "ChargeCategory": pc.if_else(fee, "Purchase", category),
        "ChargeClass": pc.if_else(pc.and_(adjustment, earlier), "Correction", pa.scalar(None, pa.string())),
        "ChargeDescription": pc.coalesce(
            field(col["adjustment_info"], "description"),
            field(col["sku"], "description"),
            field(col["service"], "description"),
        ),
        "ChargeFrequency": pc.if_else(fee, "Recurring", frequency),
    }


def _service_columns(col: dict, config_dir: Path) -> dict:
    """Who provides and sells the charge, what service, where, on what resource, with which tags."""
    n, service = len(col["cost_type"]), field(col["service"], "description")
    classes, default = service_classes(config_dir, gcp.PROVIDER_NAME)
    provider = constant(gcp.PROVIDER_NAME, pa.string(), n)
    return {
        "ProviderName": provider,
        # Marketplace rows name their seller; Google's own rows say "Google".
        "PublisherName": map_values(
            col["seller_name"], lambda s: gcp.PROVIDER_NAME if s in (None, "Google") else s, pa.string()
        ),
        "InvoiceIssuerName": provider,
        "ServiceCategory": map_values(service, lambda s: classes.get(s, default)[0], pa.string()),
        "ServiceName": pc.coalesce(service, provider),
        "ServiceSubcategory": map_values(service, lambda s: classes.get(s, default)[1], pa.string()),
        # FOCUS: a Tax row names no SKU (Google's tax rows carry the invoice's tax SKU).
        "SkuId": pc.if_else(
            pc.fill_null(pc.equal(col["cost_type"], "tax"), False),
            pa.scalar(None, pa.string()),
            field(col["sku"], "id"),
        ),
        "RegionId": field(col["location"], "region"),
        "RegionName": field(col["location"], "region"),
        "AvailabilityZone": field(col["location"], "zone"),
        "ResourceId": field(col["resource"], "global_name"),
        "ResourceName": field(col["resource"], "name"),
        # Resource labels, then the project labels they inherit, then Google's (already namespaced) system labels,
        # then Resource Manager tags as "<namespace>/<key>" (a label key has no "/": they cannot collide).
        "Tags": json_objects(
            col["labels"], field(col["project"], "labels"), col["system_labels"], tag_pairs(col["tags"])
        ),
    }


def tag_pairs(tags: pa.Array) -> pa.Array:
    """Resource Manager tags as key/value items keyed "<namespace>/<key>" (Google's namespaced tag key name)."""
    items = pc.list_flatten(tags)
    key = pc.binary_join_element_wise(
        pc.fill_null(field(items, "namespace"), ""), field(items, "key"), "/", null_handling="emit_null"
    )
    pairs = pa.StructArray.from_arrays([key, field(items, "value")], names=["key", "value"])
    offsets = pc.subtract(tags.offsets, tags.offsets[0])
    return pa.ListArray.from_arrays(offsets, pairs, mask=tags.is_null())


def _commitment_columns(col: dict, kinds: dict) -> dict:
    """CommitmentDiscount* of fee and covered rows (null elsewhere); Status "Used" on covered usage."""
    kind, account = kinds["kind"], col["billing_account_id"]
    model = pc.fill_null(kinds["model"], "")
    name = pc.case_when(
        pa.StructArray.from_arrays(
            [pc.fill_null(pc.equal(kind, k), False) for k in cud.KINDS], names=list(cud.KINDS)
        ),
        pc.binary_join_element_wise("consumptionModels", model, "/"),
        *(pa.scalar(f"commitments/{k}-based", pa.string()) for k in list(cud.KINDS)[1:]),
    )
    ids = pc.binary_join_element_wise("billingAccounts", account, name, "/")
    covered = pc.and_(pc.is_valid(kind), pc.invert(kinds["fee"]))
    return {
        "CommitmentDiscountId": ids,
        "CommitmentDiscountCategory": map_values(kind, lambda k: cud.KINDS[k][1] if k else None, pa.string()),
        "CommitmentDiscountType": map_values(kind, lambda k: cud.KINDS[k][2] if k else None, pa.string()),
        "CommitmentDiscountStatus": pc.if_else(covered, "Used", pa.scalar(None, pa.string())),
    }


def _effective_cost(table: pa.Table, col: dict, kinds: dict) -> tuple[pa.Array, list[dict]]:
    """EffectiveCost (fees 0, legacy covered usage with its share of the hour's fee) and the unused amounts;
    `table` holds the other FOCUS columns (their values order a pool-hour's rows)."""
    net, pool = col["net_cost"], table["CommitmentDiscountId"].combine_chunks()
    involved = pc.indices_nonzero(pc.is_valid(pool))
    subset = pa.table(
        {
            "index": involved,
            "pool": pool.take(involved),
            "currency": col["currency"].take(involved),
            "start": col["usage_start_time"].take(involved),
            "fee": kinds["fee"].take(involved),
            "kind": kinds["kind"].take(involved),
            "net": net.take(involved),
            "weight": kinds["weight"].take(involved),
        }
    )
    keys = table.select(list(cud.ORDER_COLUMNS)).take(involved).to_pylist()
    rows = [{**row, "key": cud.order_key(key)} for row, key in zip(subset.to_pylist(), keys, strict=True)]
    effective, unused = cud.allocate(rows)  # Python only for commitment rows, not every row
    zero = pa.scalar(Decimal(0), NUMERIC)
    cost = pc.if_else(kinds["fee"], zero, net)
    if effective:
        mask = pc.is_in(row_numbers(len(net)), pa.array(list(effective), pa.int64()))
        cost = pc.replace_with_mask(cost, mask, pa.array([effective[i] for i in sorted(effective)], NUMERIC))
    return cost, unused


def _unused_rows(table: pa.Table, unused: list[dict]) -> pa.Table:
    """Per pool-hour with commitment left unused, a Usage row (Status Unused) carrying it: BilledCost 0 (the fee
    row bills it), EffectiveCost the amount; the fee row's identity, period and pool."""
    rows = table.take(pa.array([u["fee_index"] for u in unused], pa.int64()))
    k, zero = rows.num_rows, pa.repeat(pa.scalar(Decimal(0), NUMERIC), rows.num_rows)
    units = pc.fill_null(rows["PricingUnit"].combine_chunks(), "Units")
    changes = {
        "ChargeCategory": constant("Usage", pa.string(), k),
        "ChargeFrequency": constant("Usage-Based", pa.string(), k),
        "ChargeDescription": pc.binary_join_element_wise(
            "Unused commitment", pc.fill_null(rows["ChargeDescription"].combine_chunks(), ""), ": "
        ),
        "BilledCost": zero,
        "EffectiveCost": pa.array([u["amount"] for u in unused], NUMERIC),
        "ListCost": zero,
        "ContractedCost": zero,
        "PricingQuantity": zero,
        "PricingUnit": units,
        "CommitmentDiscountStatus": constant("Unused", pa.string(), k),
        "x_cost_type": constant("unused_commitment", pa.string(), k),
        **{name: zero for name in ("x_credits_total", *gcp.CREDIT_GROUPS, "x_credits_other")},
    }
    for name, values in changes.items():
        rows = rows.set_column(rows.schema.get_field_index(name), name, values)
    return rows


def focus_rows(raw: pa.Table, config_dir: Path, run_id: str, ingested_at: datetime) -> pa.Table:
    """cost_focus rows (columns of its schema, in order; Tags as JSON text) for gcp_billing_daily rows: one per
    export row, then one per commitment left unused in an hour (see commitments)."""
    n, col = raw.num_rows, {name: raw[name].combine_chunks() for name in raw.column_names}
    kinds = cud.row_kinds(col)
    usage_rows = pc.and_(_regular(col["cost_type"]), pc.invert(kinds["fee"]))
    table = pa.table(
        {
            **_charge_columns(col, kinds["fee"]),
            "BilledCost": col["net_cost"],  # cost + credits: what is invoiced, discounts included
            "EffectiveCost": col["net_cost"],  # set below, once the rows' other columns order each pool-hour
            "ListCost": pc.coalesce(col["cost_at_list"], col["cost"]),
            # The negotiated price without the commitment discount: under the new CUD model `cost` is at the
            # CUD's price for covered usage, cost_at_effective_price_default at the default one.
            "ContractedCost": pc.coalesce(col["cost_at_effective_price_default"], col["cost"]),
            **_quantities(raw, col["cost_type"], usage_rows),
            **_service_columns(col, config_dir),
            **_commitment_columns(col, kinds),
            "x_cost_type": col["cost_type"],
            **_credit_columns(raw),
            "x_currency_conversion_rate": col["currency_conversion_rate"],
            "x_model": pa.nulls(n, pa.string()),
            "x_token_type": pa.nulls(n, pa.string()),
            "x_source_table": constant("gcp_billing_daily", pa.string(), n),
            "x_source_partition": col["partition_date"],
            "x_pipeline_logging_id": constant(run_id, pa.string(), n),
            "x_ingested_at": constant(ingested_at, TIMESTAMP, n),
        }
    )
    effective, unused = _effective_cost(table, col, kinds)
    table = table.set_column(table.schema.get_field_index("EffectiveCost"), "EffectiveCost", effective)
    return pa.concat_tables([table, _unused_rows(table, unused)]) if unused else table
