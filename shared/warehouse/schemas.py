"""Table definitions read from configs/schemas/*.yml: the single source of every table's columns."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Column:
    """One column of a table; a RECORD column has sub-columns in `fields`."""

    name: str
    type: str
    mode: str = "NULLABLE"
    description: str | None = None
    fields: tuple[Column, ...] = ()

    def bigquery_field(self):
        """The column as a google.cloud.bigquery SchemaField (nested for RECORD)."""
        from google.cloud import bigquery

        sub = tuple(field.bigquery_field() for field in self.fields)
        return bigquery.SchemaField(
            self.name, self.type, mode=self.mode, description=self.description, fields=sub
        )


@dataclass(frozen=True)
class TableSpec:
    """A table's columns and physical layout (partitioning, clustering, the column a load replaces by)."""

    name: str
    columns: tuple[Column, ...]
    description: str = ""
    partition_field: str | None = None
    partition_type: str = "DAY"
    clustering: tuple[str, ...] = ()
    slice_field: str | None = None
    # The provider whose runs alone write the table: it is made in an org's dataset at the org's first run of that
    # provider, not at onboarding (an org that never reads AWS has no AWS tables). None: made at onboarding.
    provider: str | None = None

    def made_for(self, provider: str | None) -> bool:
        """Whether an org dataset ensured for `provider` (None: onboarding, every provider's shared tables) holds
        this table."""
        return self.provider is None or self.provider == provider

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @functools.cached_property
    def schema_digest(self) -> str:
        """A short digest of the columns (names, types, modes, nesting): a table labelled with it is current."""
        text = repr([(c.name, c.type, c.mode, c.fields) for c in self.columns])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def bigquery_schema(self):
        """The schema as google.cloud.bigquery SchemaFields."""
        return [column.bigquery_field() for column in self.columns]

    def column(self, name: str) -> Column:
        """The column called `name`; KeyError if the table has none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name}")


def _column(raw: dict) -> Column:
    return Column(**{**raw, "fields": tuple(_column(sub) for sub in raw.get("fields", ()))})


def _parse(path: Path) -> TableSpec:
    raw = yaml.safe_load(path.read_text())
    columns = tuple(_column(field) for field in raw["fields"])
    return TableSpec(
        name=path.stem,
        columns=columns,
        description=raw.get("description", ""),
        partition_field=raw.get("partition_field"),
        partition_type=raw.get("partition_type", "DAY"),
        clustering=tuple(raw.get("clustering", ())),
        slice_field=raw.get("slice_field"),
        provider=raw.get("provider"),
    )


@functools.cache
def load_table_specs(config_dir: Path, group: str) -> dict[str, TableSpec]:
    """Every table of a group ("organizations" for the central dataset, "org" for per-org datasets)."""
    folder = Path(config_dir) / "schemas" / group
    return {path.stem: _parse(path) for path in sorted(folder.glob("*.yml"))}
