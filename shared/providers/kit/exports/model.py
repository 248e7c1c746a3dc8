"""What an export loader reads (deliveries of files, each listed by a manifest) and what a provider declares to load
one (ExportSpec): the provider-neutral half of file-based FOCUS exports (AWS Data Exports, Azure cost exports)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class ExportFile:
    """One delivered data file."""

    name: str  # object key / blob path
    size: int
    format: str  # "parquet" | "csv"
    compression: str | None  # "gzip" | None


@dataclass(frozen=True)
class Delivery:
    """What the newest complete manifest of one billing period lists."""

    billing_period: date  # first day of the month
    delivery_id: str  # execution/run id + a digest of the file list: changes when anything is restated
    files: tuple[ExportFile, ...]


class ExportSource(Protocol):
    """Where a provider's export lives (a bucket, a container), read through the provider's SDK."""

    def deliveries(self, first: date, last: date) -> list[Delivery]:
        """The newest complete delivery of every billing period overlapping the charge days [first, last]."""
        ...

    def open(self, file: ExportFile) -> BinaryIO:
        """A seekable, streamed read of one file (ranged reads: never the whole file in memory)."""
        ...


@dataclass(frozen=True)
class ExportSpec:
    """How one provider's export is loaded.

    raw_table: its raw table (configs/schemas/org/<raw_table>.yml); it must have the DATE columns `billing_period`
        and `charge_date` (the UTC day of ChargePeriodStart) and the STRING columns `x_delivery_id`,
        `x_source_file`, `x_pipeline_logging_id` and the TIMESTAMP `x_ingested_at` (the loader fills those).
    state_table: its load state (per billing period and charge day: the delivery loaded and its rows).
    provider_name: its ProviderName in cost_focus (the slice its loads replace).
    charge_days(batch): the UTC day (date32) of every row of a file's batch (before to_raw: rows of other days
        are dropped first).
    to_raw(batch): a file's batch (Parquet typed, CSV as text) → the raw table's provider columns and charge_date.
    to_focus(raw, audit): raw rows (the whole raw table's columns) → cost_focus rows (its columns, any order).
    csv_types: column types CSV files are read with (money as text, converted exactly by to_raw); others inferred.
    batch_rows: rows per streamed batch (bounds memory with the transforms' per-batch cost).
    """

    raw_table: str
    state_table: str
    provider_name: str
    charge_days: Callable
    to_raw: Callable
    to_focus: Callable
    csv_types: dict | None = None
    batch_rows: int = 65_536
    commit_reserve_seconds: float = 20.0  # a step never starts a commit with less time left
