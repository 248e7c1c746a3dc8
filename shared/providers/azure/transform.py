"""Export file batches → azure_cost_export rows (vectorised): every column the raw table's spec names, converted
from CSV text or Parquet types; the charge day of every row; refusal of rows without what FOCUS requires."""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow as pa

from shared.platform.errors import TerminalError
from shared.providers.azure import constants as az
from shared.providers.azure.convert import convert, utc_day
from shared.warehouse.schemas import TableSpec, load_table_specs

# Filled by the loader, not read from the export.
LOADER_COLUMNS = frozenset(
    {"billing_period", "x_delivery_id", "x_source_file", "x_pipeline_logging_id", "x_ingested_at"}
)


@functools.cache
def raw_spec(config_dir: Path) -> TableSpec:
    """The azure_cost_export spec (configs/schemas/org/azure_cost_export.yml)."""
    return load_table_specs(config_dir, "org")[az.RAW_TABLE]


def export_columns(config_dir: Path) -> list:
    """The raw table's columns that come from the export (all but the loader's and charge_date)."""
    return [c for c in raw_spec(config_dir).columns if c.name not in LOADER_COLUMNS | {"charge_date"}]


def csv_types(config_dir: Path) -> dict:
    """Every export column read from CSV as text: to_raw converts money exactly (never through float)."""
    return {column.name: pa.string() for column in export_columns(config_dir)}


def charge_days(batch: pa.RecordBatch) -> pa.Array:
    """The UTC day of every row's ChargePeriodStart (rows without one are refused by to_raw)."""
    if "ChargePeriodStart" not in batch.schema.names:
        raise TerminalError("PROVIDER_BAD_DATA", "an export file has no ChargePeriodStart column: not FOCUS")
    return utc_day(batch.column("ChargePeriodStart"), "ChargePeriodStart")


def to_raw(batch: pa.RecordBatch, config_dir: Path) -> pa.Table:
    """A file's batch → the raw table's export columns and charge_date. A column the export lacks (a FOCUS 1.0
    file has no 1.2-preview column) is null; a REQUIRED one missing or null is refused with its name."""
    n, names = batch.num_rows, set(batch.schema.names)
    columns: dict[str, pa.Array] = {"charge_date": charge_days(batch)}
    for column in export_columns(config_dir):
        values = batch.column(column.name) if column.name in names else pa.nulls(n, pa.string())
        columns[column.name] = convert(values, column.type, column.name)
        if column.mode == "REQUIRED" and columns[column.name].null_count:
            nulls = columns[column.name].null_count
            raise TerminalError(
                "PROVIDER_BAD_DATA", f"{nulls} export rows have no {column.name} (FOCUS requires it)"
            )
    return pa.table(columns)
