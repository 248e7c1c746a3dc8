"""AWS FOCUS export rows → aws_cost_export (raw) and cost_focus rows, vectorised. Parquet arrives typed (money as
double, timestamps, Tags and x_ columns as maps), gzip CSV as text (maps as JSON text): both land the same way.

Columns: FOCUS 1.0 with AWS columns (User Guide, "FOCUS 1.0 with AWS columns": the 43 FOCUS columns plus
x_CostCategories, x_Discounts, x_Operation, x_ServiceCode, x_UsageType); InvoiceId exists in the FOCUS 1.2 table
only and is kept when present. Money is double in the export: converted exactly once, correctly rounded to NUMERIC.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from shared.platform.errors import TerminalError
from shared.providers.aws import constants as aws
from shared.providers.kit.arrowkit import NUMERIC, constant, json_objects, map_values, to_numeric
from shared.providers.kit.focus import service_classes

TIMESTAMP = pa.timestamp("us", tz="UTC")
MONEY = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice", "ContractedUnitPrice")
QUANTITIES = ("PricingQuantity", "ConsumedQuantity")
TIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
MAPS = ("Tags", "x_CostCategories", "x_Discounts")
TEXT = (
    "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "BillingCurrency", "InvoiceId",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "PricingUnit", "ConsumedUnit",
    "PricingCategory", "ProviderName", "PublisherName", "InvoiceIssuerName", "ServiceCategory", "ServiceName",
    "SkuId", "SkuPriceId", "RegionId", "RegionName", "AvailabilityZone", "ResourceId", "ResourceName",
    "ResourceType", "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountStatus", "CommitmentDiscountType", "x_Operation", "x_ServiceCode", "x_UsageType",
)  # fmt: skip
# CSV: read every column as text; the conversions below are the same for both formats.
CSV_TYPES = {name: pa.string() for name in (*MONEY, *QUANTITIES, *TIMES, *MAPS, *TEXT)}


def _column(batch, name: str):
    index = batch.schema.get_field_index(name)
    return None if index < 0 else batch.column(index)


def timestamps(values) -> pa.Array:
    """Timestamps (typed, or ISO-8601 text with or without Z / +00:00) as UTC microseconds."""
    if pa.types.is_timestamp(values.type):
        return (
            values.cast(pa.timestamp("us", tz=values.type.tz)).cast(TIMESTAMP)
            if values.type.tz
            else (
                values.cast(pa.timestamp("us")).cast(TIMESTAMP)  # the export writes UTC without a zone
            )
        )
    text = pc.replace_substring_regex(values.cast(pa.string()), r"(Z|[+-]00:?00)$", "")
    text = pc.replace_substring(text, " ", "T")
    try:
        return text.cast(pa.timestamp("us")).cast(TIMESTAMP)
    except pa.ArrowInvalid as exc:
        raise TerminalError("PROVIDER_BAD_DATA", f"an export timestamp is not ISO 8601: {exc}") from None


def charge_days(batch) -> pa.Array:
    """The UTC day of every row's ChargePeriodStart."""
    start = _column(batch, "ChargePeriodStart")
    if start is None:
        raise TerminalError("PROVIDER_BAD_DATA", "an export file has no ChargePeriodStart column")
    return timestamps(start).cast(pa.date32())


def _numeric(values) -> pa.Array:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        try:  # the text of a double (AWS writes them as such, exponents included): the same value as Parquet's
            values = pc.cast(values, pa.float64())
        except pa.ArrowInvalid as exc:
            raise TerminalError("PROVIDER_BAD_DATA", f"an export amount is not a number: {exc}") from None
    if pa.types.is_decimal(values.type):
        return values.cast(NUMERIC)
    return to_numeric(values.cast(pa.float64()))


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _canonical_json(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise TerminalError("PROVIDER_BAD_DATA", "an export Tags/x_ map column is not JSON") from None
    return _json(value)


def json_text(values) -> pa.Array:
    """A map column (Parquet) or its JSON text (CSV) as canonical JSON text (keys sorted)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.MapArray) and not pa.types.is_string(values.type.item_type):
        # Numbers (x_Discounts' amounts) stay JSON numbers, as in the CSV export's text; such maps are few.
        return pa.array([None if v is None else _json(dict(v)) for v in values.to_pylist()], pa.string())
    if isinstance(values, pa.MapArray):
        items = pa.StructArray.from_arrays([values.keys, values.items], names=["key", "value"])
        offsets = pc.subtract(values.offsets, values.offsets[0])
        lists = pa.ListArray.from_arrays(offsets, items, mask=values.is_null())
        text = json_objects(lists)
        return pc.if_else(values.is_null(), pa.scalar(None, pa.string()), text)
    return map_values(values.cast(pa.string()), _canonical_json, pa.string())


def to_raw(batch) -> pa.Table:
    """An export batch → the raw table's provider columns (missing optional columns as nulls) and charge_date."""
    n, out = batch.num_rows, {}
    for name in TEXT:
        values = _column(batch, name)
        out[name] = pa.nulls(n, pa.string()) if values is None else values.cast(pa.string())
    for name in TIMES:
        values = _column(batch, name)
        out[name] = pa.nulls(n, TIMESTAMP) if values is None else timestamps(values)
    for name in (*MONEY, *QUANTITIES):
        values = _column(batch, name)
        out[name] = pa.nulls(n, NUMERIC) if values is None else _numeric(values)
    for name in MAPS:
        values = _column(batch, name)
        out[name] = pa.nulls(n, pa.string()) if values is None else json_text(values)
    out["charge_date"] = out["ChargePeriodStart"].cast(pa.date32())
    return pa.table(out)


def to_focus(raw: pa.Table, audit: dict, config_dir: Path) -> pa.Table:
    """raw rows → cost_focus columns: the export's FOCUS 1.0 columns as they are, ServiceCategory and the 1.2
    ServiceSubcategory from configs/focus/service_categories.yml under "AWS", lineage and audit."""
    n, col = raw.num_rows, {name: raw[name].combine_chunks() for name in raw.column_names}
    provider = constant(aws.PROVIDER_NAME, pa.string(), n)
    classes, default = service_classes(config_dir, aws.PROVIDER_NAME)
    service = pc.coalesce(col["ServiceName"], provider)
    passed = (
        "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "BillingCurrency",
        "BillingPeriodStart", "BillingPeriodEnd", "InvoiceId", "ChargePeriodStart", "ChargePeriodEnd",
        "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "BilledCost", "EffectiveCost",
        "ListCost", "ContractedCost", "PricingQuantity", "PricingUnit", "ConsumedQuantity", "ConsumedUnit",
        "SkuId", "RegionId", "RegionName", "AvailabilityZone", "ResourceId", "ResourceName", "Tags",
        "CommitmentDiscountId", "CommitmentDiscountCategory", "CommitmentDiscountType",
        "CommitmentDiscountStatus",
    )  # fmt: skip
    null_text, null_money = pa.nulls(n, pa.string()), pa.nulls(n, NUMERIC)
    return pa.table(
        {
            **{name: col[name] for name in passed},
            "ProviderName": provider,
            "PublisherName": pc.coalesce(
                col["PublisherName"], provider
            ),  # Marketplace rows name their seller
            "InvoiceIssuerName": provider,
            "ServiceName": service,
            "ServiceCategory": map_values(service, lambda s: classes.get(s, default)[0], pa.string()),
            "ServiceSubcategory": map_values(service, lambda s: classes.get(s, default)[1], pa.string()),
            "x_cost_type": null_text,
            "x_credits_total": null_money,
            "x_credits_committed_use": null_money,
            "x_credits_sustained_use": null_money,
            "x_credits_promotion": null_money,
            "x_credits_discount": null_money,
            "x_credits_other": null_money,
            "x_currency_conversion_rate": null_money,
            "x_model": null_text,
            "x_token_type": null_text,
            "x_source_table": constant(aws.RAW_TABLE, pa.string(), n),
            "x_source_partition": col["billing_period"],
            "x_pipeline_logging_id": constant(audit["x_pipeline_logging_id"], pa.string(), n),
            "x_ingested_at": constant(audit["x_ingested_at"], TIMESTAMP, n),
        }
    )


def focus_transform(config_dir: Path):
    """to_focus bound to the configs (the loader calls it with raw rows and the audit columns)."""
    return lambda raw, audit: to_focus(raw, audit, config_dir=config_dir)
