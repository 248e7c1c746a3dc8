"""BigQuery adapter: parameterised queries, tables from schema specs, and all-or-nothing slice replacement."""

from __future__ import annotations

import io
import itertools
import random
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.errors import TransientError
from shared.schemas import TableSpec

_PARAM_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "BOOL"),  # before int: bool is an int subclass
    (int, "INT64"),
    (Decimal, "NUMERIC"),
    (datetime, "TIMESTAMP"),  # before date: datetime is a date subclass
    (date, "DATE"),
    (bytes, "BYTES"),
    (str, "STRING"),
)


# Concurrent DML/transactions on one table abort all but one (BigQuery: "Could not serialize access ... due to
# concurrent update" / "Transaction is aborted due to concurrent update"; the emulator: "Failed to commit").
# The statement is all-or-nothing, so running it again is safe.
_CONFLICT_MARKERS = ("concurrent update", "could not serialize", "failed to commit", "transaction is aborted")
CONFLICT_RETRY_SECONDS = 30.0  # how long one statement keeps retrying lost races before it reports contention


def is_conflict(exc: Exception) -> bool:
    """True for the error BigQuery gives a statement that lost a race with a concurrent write."""
    return any(marker in str(exc).lower() for marker in _CONFLICT_MARKERS)


class Typed:
    """A query parameter with an explicit type, for NULLs and JSON."""

    def __init__(self, value: Any, type_: str):
        self.value, self.type = value, type_


def _query_parameter(name: str, value: Any):
    from google.cloud import bigquery

    if isinstance(value, Typed):
        return bigquery.ScalarQueryParameter(name, value.type, value.value)
    if isinstance(value, (list, tuple)):
        item_type = next((t for cls, t in _PARAM_TYPES if value and isinstance(value[0], cls)), "STRING")
        return bigquery.ArrayQueryParameter(name, item_type, list(value))
    for cls, type_ in _PARAM_TYPES:
        if isinstance(value, cls):
            return bigquery.ScalarQueryParameter(name, type_, value)
    raise TypeError(f"query parameter {name!r}: unsupported type {type(value).__name__}; wrap it in Typed")


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
        "BYTES": pa.binary(),
    }[column_type]


def rows_to_parquet(rows: list[dict], spec: TableSpec) -> io.BytesIO:
    """Rows as a Parquet file typed by the table spec (NUMERIC stays decimal, never float)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c.name, _arrow_type(c.type), c.mode != "REQUIRED") for c in spec.columns])
    columns = {c.name: [row.get(c.name) for row in rows] for c in spec.columns}
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns, schema=schema), buffer)
    buffer.seek(0)
    return buffer


class Warehouse:
    """The project's only way into BigQuery."""

    def __init__(self, client, project: str):
        self.client = client
        self.project = project

    def table_id(self, dataset: str, table: str) -> str:
        return f"{self.project}.{dataset}.{table}"

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict]:
        """Run a parameterised query (or script: its last SELECT) and return its rows as dicts."""
        return [dict(row.items()) for row in self._run(sql, params)]

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """Run a parameterised DML statement; returns the rows it affected."""
        return self._run(sql, params).num_dml_affected_rows or 0

    def _run(self, sql: str, params: dict[str, Any] | None):
        """One round trip (jobs.query); a statement that lost a write race is run again, with jitter."""
        from google.api_core import exceptions
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=[_query_parameter(k, v) for k, v in (params or {}).items()])
        give_up_at = time.monotonic() + CONFLICT_RETRY_SECONDS
        for attempt in itertools.count(1):
            try:
                return self.client.query_and_wait(sql, job_config=config)
            except exceptions.BadRequest as exc:
                if not is_conflict(exc):
                    raise
                if time.monotonic() >= give_up_at:
                    raise TransientError("WAREHOUSE_CONTENDED", "Too many concurrent updates; retry.") from exc
                time.sleep(random.uniform(0, min(0.02 * 2 ** min(attempt, 6), 1.0)))  # full jitter, capped
            except (exceptions.ServiceUnavailable, exceptions.InternalServerError, exceptions.TooManyRequests) as exc:
                raise TransientError("WAREHOUSE_UNAVAILABLE", f"BigQuery is unavailable: {exc.code}") from exc
        raise AssertionError("unreachable")

    def ping(self, timeout: float) -> None:
        """Raise unless BigQuery answers a trivial query within `timeout` seconds (no retries)."""
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        self.client.query_and_wait(
            "SELECT 1", api_timeout=timeout, wait_timeout=timeout, retry=DEFAULT_RETRY.with_timeout(timeout),
            job_retry=None,
        )

    def ensure_dataset(self, dataset: str, location: str | None = None) -> None:
        """Create the dataset if it does not exist."""
        from google.cloud import bigquery

        ds = bigquery.Dataset(f"{self.project}.{dataset}")
        if location:
            ds.location = location
        self.client.create_dataset(ds, exists_ok=True)

    def ensure_table(self, dataset: str, spec: TableSpec) -> None:
        """Create the table from its spec if it does not exist."""
        from google.cloud import bigquery

        table = bigquery.Table(self.table_id(dataset, spec.name), schema=spec.bigquery_schema())
        table.description = spec.description
        if spec.partition_field:
            table.time_partitioning = bigquery.TimePartitioning(
                type_=spec.partition_type, field=spec.partition_field
            )
        if spec.clustering:
            table.clustering_fields = list(spec.clustering)
        self.client.create_table(table, exists_ok=True)

    def replace_slice(self, dataset: str, spec: TableSpec, rows: list[dict], start: date, end: date) -> int:
        """Replace every row of `spec` whose slice field is within [start, end] by `rows`, atomically."""
        target = self.table_id(dataset, spec.name)
        stage = self.table_id(dataset, f"_stage_{spec.name}_{uuid.uuid4().hex[:12]}")
        self._load_stage(stage, spec, rows)
        columns = ", ".join(f"`{name}`" for name in spec.column_names)
        # One transaction: readers see the old slice or the new one, never a half-loaded day.
        script = f"""
        BEGIN TRANSACTION;
        DELETE FROM `{target}` WHERE `{spec.slice_field}` BETWEEN @slice_start AND @slice_end;
        INSERT INTO `{target}` ({columns}) SELECT {columns} FROM `{stage}`;
        COMMIT TRANSACTION;
        """
        try:
            self.execute(script, {"slice_start": start, "slice_end": end})
        finally:
            self.client.delete_table(stage, not_found_ok=True)
        return len(rows)

    def _load_stage(self, stage: str, spec: TableSpec, rows: list[dict]) -> None:
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            schema=spec.bigquery_schema(),
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        )
        self.client.load_table_from_file(rows_to_parquet(rows, spec), stage, job_config=config).result()
