"""Vectorised conversions of export columns (CSV text or Parquet types) to the raw table's types: money exactly
(decimal text rounded once to NUMERIC's 9 decimals, never through float), instants as UTC."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from shared.platform.errors import TerminalError
from shared.providers.kit.arrowkit import NUMERIC, to_numeric

TIMESTAMP = pa.timestamp("us", tz="UTC")
_EXACT = pa.decimal256(76, 38)  # any decimal text Cost Management writes fits before rounding to 9 decimals


def _bad(column: str, exc: Exception):
    raise TerminalError(
        "PROVIDER_BAD_DATA", f"export column {column} holds a value of the wrong type: {str(exc)[:160]}"
    ) from None


def numeric(values: pa.Array, column: str) -> pa.Array:
    """Text, float or decimal → NUMERIC; text is parsed exactly and rounded half away from zero (BigQuery's CAST)."""
    try:
        if pa.types.is_floating(values.type):
            return to_numeric(values)
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            values = pc.cast(pc.utf8_trim_whitespace(values), _EXACT)
        if pa.types.is_decimal(values.type) and values.type.scale > 9:
            values = pc.round(values, 9, round_mode="half_towards_infinity")
        return pc.cast(values, NUMERIC)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        _bad(column, exc)


def timestamp(values: pa.Array, column: str) -> pa.Array:
    """ISO 8601 text (Cost Management writes UTC: "2025-11-01T00:00:00Z", 7 fractional digits or a bare date) or
    a timestamp (naive ones are UTC) → TIMESTAMP in UTC, to the second."""
    try:
        if pa.types.is_timestamp(values.type):
            if values.type.tz is None:
                values = pc.assume_timezone(values, "UTC")
            return pc.cast(values, TIMESTAMP)
        if pa.types.is_date(values.type):
            return pc.cast(pc.cast(values, pa.timestamp("us")), TIMESTAMP)
        text = pc.utf8_slice_codeunits(pc.replace_substring(pc.cast(values, pa.string()), " ", "T"), 0, 19)
        bare = pc.equal(pc.utf8_length(text), 10)
        text = pc.if_else(bare, pc.binary_join_element_wise(text, "T00:00:00", ""), text)
        parsed = pc.strptime(text, format="%Y-%m-%dT%H:%M:%S", unit="us")
        return pc.cast(pc.assume_timezone(parsed, "UTC"), TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        _bad(column, exc)


def utc_day(values: pa.Array, column: str) -> pa.Array:
    """The UTC day (date32) of each instant."""
    return pc.cast(pc.cast(timestamp(values, column), pa.timestamp("us")), pa.date32())


def convert(values: pa.Array, bigquery_type: str, column: str) -> pa.Array:
    """One export column → the raw table's BigQuery type (STRING, NUMERIC, TIMESTAMP, DATE, INT64)."""
    if bigquery_type == "NUMERIC":
        return numeric(values, column)
    if bigquery_type == "TIMESTAMP":
        return timestamp(values, column)
    if bigquery_type == "DATE":
        return utc_day(values, column)
    try:
        if bigquery_type == "INT64":
            return pc.cast(numeric(values, column), pa.int64())
        if bigquery_type == "STRING":
            return pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        _bad(column, exc)
    raise ValueError(f"azure_cost_export column {column}: type {bigquery_type} has no conversion")
