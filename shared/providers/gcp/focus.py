"""FOCUS mapping: gcp_billing_daily rows → cost_focus rows (vectorised, one FOCUS row per export row)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from shared.providers.gcp import constants as gcp
from shared.providers.gcp.arrowkit import (
    NUMERIC,
    constant,
    field,
    flat_parents,
    json_objects,
    map_values,
    per_row_sum,
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


def _quantities(raw: pa.Table, cost_type: pa.Array) -> dict:
    # FOCUS: no quantity for Tax, none without its unit; consumption only for usage.
    usage, null = raw["usage"].combine_chunks(), pa.nulls(raw.num_rows, NUMERIC)
    pricing_unit, unit = field(usage, "pricing_unit"), field(usage, "unit")
    pricing, amount = field(usage, "amount_in_pricing_units"), field(usage, "amount")
    not_tax = pc.invert(pc.fill_null(pc.equal(cost_type, "tax"), False))
    priced = pc.and_(not_tax, pc.and_(pc.is_valid(pricing_unit), pc.is_valid(pricing)))
    consumed = pc.and_(_regular(cost_type), pc.and_(pc.is_valid(unit), pc.is_valid(amount)))
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


def _charge_columns(col: dict) -> dict:
    """Accounts, periods and the kind of charge."""
    n, cost_type, start, end = (
        len(col["cost_type"]),
        col["cost_type"],
        col["usage_start_time"],
        col["usage_end_time"],
    )
    month = field(col["invoice"], "month")
    return {
        "BillingAccountId": col["billing_account_id"],
        "BillingAccountName": pa.nulls(n, pa.string()),
        "SubAccountId": field(col["project"], "id"),
        "SubAccountName": field(col["project"], "name"),
        "BillingCurrency": col["currency"],
        "BillingPeriodStart": map_values(month, lambda m: billing_period(m, False), TIMESTAMP),
        "BillingPeriodEnd": map_values(month, lambda m: billing_period(m, True), TIMESTAMP),
        "InvoiceId": pa.nulls(n, pa.string()),
        "ChargePeriodStart": start,
        # FOCUS needs an end after the start; a zero-length export row (seen on some tax rows) gets its hour.
        "ChargePeriodEnd": pc.if_else(
            pc.greater(end, start), end, pc.add(start, pa.scalar(timedelta(hours=1)))
        ),
        "ChargeCategory": map_values(
            cost_type, lambda t: CHARGE_CATEGORY.get(t or "regular", "Usage"), pa.string()
        ),
        # A GCP adjustment corrects usage of an earlier, already invoiced period.
        "ChargeClass": map_values(
            cost_type, lambda t: "Correction" if t == "adjustment" else None, pa.string()
        ),
        "ChargeDescription": pc.coalesce(
            field(col["adjustment_info"], "description"),
            field(col["sku"], "description"),
            field(col["service"], "description"),
        ),
        "ChargeFrequency": pc.if_else(_regular(cost_type), "Usage-Based", "One-Time"),
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
        "SkuId": field(col["sku"], "id"),
        "RegionId": field(col["location"], "region"),
        "RegionName": field(col["location"], "region"),
        "AvailabilityZone": field(col["location"], "zone"),
        "ResourceId": field(col["resource"], "global_name"),
        "ResourceName": field(col["resource"], "name"),
        # Resource labels, then the project labels they inherit, then Google's (already namespaced) system labels.
        "Tags": json_objects(col["labels"], field(col["project"], "labels"), col["system_labels"]),
    }


def focus_rows(raw: pa.Table, config_dir: Path, run_id: str, ingested_at: datetime) -> pa.Table:
    """cost_focus rows (columns of its schema, in order; Tags as JSON text) for gcp_billing_daily rows."""
    n, col = raw.num_rows, {name: raw[name].combine_chunks() for name in raw.column_names}
    return pa.table(
        {
            **_charge_columns(col),
            "BilledCost": col["net_cost"],  # cost + credits: what is invoiced, discounts included
            "EffectiveCost": col["net_cost"],
            "ListCost": pc.coalesce(col["cost_at_list"], col["cost"]),
            "ContractedCost": col["cost"],  # the negotiated price, before credits
            **_quantities(raw, col["cost_type"]),
            **_service_columns(col, config_dir),
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
