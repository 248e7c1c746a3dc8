"""Transform: export rows (Arrow) → gcp_billing_daily rows, vectorised; money FLOAT64 → NUMERIC exactly once."""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow as pa

from shared.providers.gcp.sql import EXPORT_COLUMNS
from shared.providers.kit.arrowkit import add_numeric, constant, field, flat_parents, per_row_sum, to_numeric

SOURCE_SCHEMA_NAME = "gcp_billing_export_resource_v1"


@functools.cache
def source_schema(config_dir: Path) -> pa.Schema:
    """The Arrow shape of a source batch: partition_date, then the export's columns (configs/schemas/sources)."""
    from shared.warehouse.arrow import arrow_schema
    from shared.warehouse.schemas import load_table_specs

    export = arrow_schema(load_table_specs(config_dir, "sources")[SOURCE_SCHEMA_NAME])
    return pa.schema(
        [pa.field("partition_date", pa.date32()), *(export.field(name) for name in EXPORT_COLUMNS)]
    )


def _usage(usage: pa.Array) -> pa.Array:
    return pa.StructArray.from_arrays(
        [
            to_numeric(field(usage, "amount")),
            field(usage, "unit"),
            to_numeric(field(usage, "amount_in_pricing_units")),
            field(usage, "pricing_unit"),
        ],
        names=["amount", "unit", "amount_in_pricing_units", "pricing_unit"],
        mask=usage.is_null(),
    )


def _credits(credits: pa.Array) -> pa.Array:
    items = pa.compute.list_flatten(credits)
    numeric = pa.StructArray.from_arrays(
        [
            field(items, "name"),
            to_numeric(field(items, "amount")),
            field(items, "full_name"),
            field(items, "id"),
            field(items, "type"),
        ],
        names=["name", "amount", "full_name", "id", "type"],
    )
    offsets = pa.compute.subtract(
        credits.offsets, credits.offsets[0]
    )  # a slice's offsets need not start at 0
    return pa.ListArray.from_arrays(offsets, numeric, mask=credits.is_null())


def raw_rows(source: pa.Table, audit: dict) -> pa.Table:
    """gcp_billing_daily rows of a batch of export rows (`source_schema` shape): columns of its schema, in order.

    `audit` holds x_source_table, x_pipeline_logging_id and x_ingested_at, the same for every row of a load.
    """
    column = {name: source[name].combine_chunks() for name in source.column_names}
    n = source.num_rows
    cost = to_numeric(column["cost"])
    items, parents = flat_parents(column["credits"])
    credits_total = per_row_sum(n, parents, to_numeric(field(items, "amount")))
    return pa.table(
        {
            "partition_date": column["partition_date"],
            "usage_date": pa.compute.cast(column["usage_start_time"], pa.date32()),
            **{
                name: column[name] for name in EXPORT_COLUMNS[:10]
            },  # billing_account_id .. export_time, as given
            "cost": cost,
            "currency": column["currency"],
            "currency_conversion_rate": to_numeric(column["currency_conversion_rate"]),
            "usage": _usage(column["usage"]),
            "credits": _credits(column["credits"]),
            "credits_total": credits_total,
            "net_cost": add_numeric(cost, credits_total),
            "invoice": column["invoice"],
            "cost_type": column["cost_type"],
            "adjustment_info": column["adjustment_info"],
            "cost_at_list": to_numeric(column["cost_at_list"]),
            **{name: column[name] for name in ("transaction_type", "seller_name", "resource", "price")},
            "consumption_model": column["consumption_model"],
            "cost_at_effective_price_default": to_numeric(column["cost_at_effective_price_default"]),
            "tags": column["tags"],
            "x_source_table": constant(audit["x_source_table"], pa.string(), n),
            "x_pipeline_logging_id": constant(audit["x_pipeline_logging_id"], pa.string(), n),
            "x_ingested_at": constant(audit["x_ingested_at"], pa.timestamp("us", tz="UTC"), n),
        }
    )
