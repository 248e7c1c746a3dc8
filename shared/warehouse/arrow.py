"""Table specs as Arrow schemas (NUMERIC stays decimal, RECORD a struct, REPEATED a list)."""

from __future__ import annotations

from shared.warehouse.schemas import TableSpec


def _arrow_type(column_type: str):
    import pyarrow as pa

    return {
        "STRING": pa.string(),
        "INT64": pa.int64(),
        "INTEGER": pa.int64(),
        "NUMERIC": pa.decimal128(38, 9),
        "BOOL": pa.bool_(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us", tz="UTC"),
        "FLOAT64": pa.float64(),
        "FLOAT": pa.float64(),
        "BYTES": pa.binary(),
        "JSON": pa.string(),
    }[column_type]


def _arrow_field(column, nested: bool = False):
    import pyarrow as pa

    if column.type == "RECORD":
        type_ = pa.struct([_arrow_field(sub, nested=True) for sub in column.fields])
    else:
        type_ = _arrow_type(column.type)
    if column.mode == "REPEATED":
        # A top-level REPEATED column is never NULL (an empty list at most). Inside a RECORD it is NULL wherever the
        # record is (a GCP export row without a project has no project.labels), so it must be nullable there.
        return pa.field(column.name, pa.list_(type_), nullable=nested)
    return pa.field(column.name, type_, column.mode != "REQUIRED")


def arrow_schema(spec: TableSpec):
    """The table's schema as an Arrow schema (NUMERIC is decimal128(38, 9), RECORD a struct, REPEATED a list)."""
    import pyarrow as pa

    return pa.schema([_arrow_field(column) for column in spec.columns])
