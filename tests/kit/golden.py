"""Golden files: rows as the expected JSON files hold them (ISO dates, Decimals as plain digits, scale kept)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal


def canonical(value):
    """One value as golden files hold it (nested dicts and lists included)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


def jsonable(rows: list[dict]) -> list[dict]:
    """Rows as golden files hold them."""
    return [canonical(row) for row in rows]


def typed_row(row: dict, spec) -> dict:
    """A golden row (JSON) with its values in its table's column types (to load it back into the warehouse)."""
    parse = {"DATE": date.fromisoformat, "TIMESTAMP": datetime.fromisoformat, "NUMERIC": Decimal}
    types = {column.name: column.type for column in spec.columns}
    return {k: parse[types[k]](v) if v is not None and types[k] in parse else v for k, v in row.items()}
