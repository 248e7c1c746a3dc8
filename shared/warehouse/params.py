"""Query parameters: Python values (Decimal, dates, arrays, typed NULLs) and whole slices of rows as one
ARRAY<STRUCT> parameter."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.warehouse.schemas import TableSpec

_PARAM_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "BOOL"),  # before int: bool is an int subclass
    (int, "INT64"),
    (Decimal, "NUMERIC"),
    (datetime, "TIMESTAMP"),  # before date: datetime is a date subclass
    (date, "DATE"),
    (bytes, "BYTES"),
    (str, "STRING"),
)


# A slice this small is sent inside the transaction's request (one ARRAY<STRUCT> parameter, well under BigQuery's
# 10 MB request limit) instead of through a staging table: one round trip and one commit instead of three.
INLINE_SLICE_MAX_ROWS = 500
_INLINE_TYPES = frozenset({"STRING", "INT64", "NUMERIC", "BOOL", "DATE", "TIMESTAMP"})


class Typed:
    """A query parameter with an explicit type, for NULLs and JSON."""

    def __init__(self, value: Any, type_: str):
        self.value, self.type = value, type_


class InlineRows:
    """Rows passed as one ARRAY<STRUCT> query parameter, typed by the table spec (read as `UNNEST(@p) AS r`)."""

    def __init__(self, spec: TableSpec, rows: list[dict]):
        self.spec, self.rows = spec, rows

    def parameter(self, name: str):
        from google.cloud import bigquery

        columns = self.spec.columns
        struct_type = bigquery.StructQueryParameterType(
            *(bigquery.ScalarQueryParameterType(column.type, name=column.name) for column in columns)
        )
        values = [
            bigquery.StructQueryParameter(
                None,
                *(bigquery.ScalarQueryParameter(c.name, c.type, row.get(c.name)) for c in columns),
            )
            for row in self.rows
        ]
        return bigquery.ArrayQueryParameter(name, struct_type, values)


def can_inline(spec: TableSpec, rows: list[dict]) -> bool:
    """Whether `rows` may travel inline: few enough for one request, and only scalar columns of plain types."""
    return len(rows) <= INLINE_SLICE_MAX_ROWS and all(
        column.mode != "REPEATED" and column.type in _INLINE_TYPES for column in spec.columns
    )


def _query_parameter(name: str, value: Any):
    from google.cloud import bigquery

    if isinstance(value, InlineRows):
        return value.parameter(name)
    if isinstance(value, Typed):
        return bigquery.ScalarQueryParameter(name, value.type, value.value)
    if isinstance(value, (list, tuple)):
        item_type = next((t for cls, t in _PARAM_TYPES if value and isinstance(value[0], cls)), "STRING")
        return bigquery.ArrayQueryParameter(name, item_type, list(value))
    for cls, type_ in _PARAM_TYPES:
        if isinstance(value, cls):
            return bigquery.ScalarQueryParameter(name, type_, value)
    raise TypeError(f"query parameter {name!r}: unsupported type {type(value).__name__}; wrap it in Typed")


def query_parameters(params: dict[str, Any] | None) -> list:
    """BigQuery query parameters for a mapping of Python values (types as in `Warehouse.query`)."""
    return [_query_parameter(name, value) for name, value in (params or {}).items()]
