"""BigQuery adapter: parameterised queries, tables from schema specs, and all-or-nothing slice replacement."""

from __future__ import annotations

import io
import itertools
import os
import random
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.platform.errors import TransientError
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


# Concurrent DML/transactions on one table abort all but one (BigQuery: "Could not serialize access ... due to
# concurrent update" / "Transaction is aborted due to concurrent update"; the emulator: "Failed to commit").
# The statement is all-or-nothing, so running it again is safe.
_CONFLICT_MARKERS = ("concurrent update", "could not serialize", "failed to commit", "transaction is aborted")
CONFLICT_RETRY_SECONDS = 30.0  # how long one statement keeps retrying lost races before it reports contention
# How long a statement waits out a BigQuery that does not answer: a worker rides out a short outage inside its
# run; the API answers 503 with Retry-After soon instead of holding the caller's connection (see Warehouse).
WORKER_UNAVAILABLE_AFTER_SECONDS = 120.0
API_UNAVAILABLE_AFTER_SECONDS = 10.0
# A slice this small is sent inside the transaction's request (one ARRAY<STRUCT> parameter, well under BigQuery's
# 10 MB request limit) instead of through a staging table: one round trip and one commit instead of three.
INLINE_SLICE_MAX_ROWS = 500
_INLINE_TYPES = frozenset({"STRING", "INT64", "NUMERIC", "BOOL", "DATE", "TIMESTAMP"})


def is_conflict(exc: Exception) -> bool:
    """True for the error BigQuery gives a statement that lost a race with a concurrent write."""
    return any(marker in str(exc).lower() for marker in _CONFLICT_MARKERS)


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


def _arrow_field(column):
    import pyarrow as pa

    if column.type == "RECORD":
        type_ = pa.struct([_arrow_field(sub) for sub in column.fields])
    else:
        type_ = _arrow_type(column.type)
    if column.mode == "REPEATED":
        return pa.field(column.name, pa.list_(type_), nullable=False)
    return pa.field(column.name, type_, column.mode != "REQUIRED")


def arrow_schema(spec: TableSpec):
    """The table's schema as an Arrow schema (NUMERIC is decimal128(38, 9), RECORD a struct, REPEATED a list)."""
    import pyarrow as pa

    return pa.schema([_arrow_field(column) for column in spec.columns])


def rows_to_parquet(rows: list[dict], spec: TableSpec) -> io.BytesIO:
    """Rows as a Parquet file typed by the table spec (NUMERIC stays decimal, never float)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {c.name: [row.get(c.name) for row in rows] for c in spec.columns}
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns, schema=arrow_schema(spec)), buffer)
    buffer.seek(0)
    return buffer


def slice_condition(spec: TableSpec, match: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The WHERE clause naming a load's slice: the slice field within [@slice_start, @slice_end], plus `match`.

    A TIMESTAMP slice field is compared as a half-open range of whole UTC days, so partitions are pruned.
    `match` adds equality filters (e.g. {"ProviderName": "Google Cloud"}) as parameters, never as SQL text.
    """
    column = spec.column(spec.slice_field)
    if column.type == "TIMESTAMP":
        where = (
            f"`{column.name}` >= TIMESTAMP(@slice_start) "
            f"AND `{column.name}` < TIMESTAMP(DATE_ADD(@slice_end, INTERVAL 1 DAY))"
        )
    else:
        where = f"`{column.name}` BETWEEN @slice_start AND @slice_end"
    params = {}
    for index, (name, value) in enumerate(sorted((match or {}).items())):
        spec.column(name)  # KeyError for a column the table does not have: never interpolate an unknown name
        where += f" AND `{name}` = @match_{index}"
        params[f"match_{index}"] = value
    return where, params


class SchemaDriftError(RuntimeError):
    """An existing table cannot be brought to its spec by adding NULLABLE columns."""


class Warehouse:
    """The project's only way into BigQuery."""

    def __init__(self, client, project: str, unavailable_after: float = WORKER_UNAVAILABLE_AFTER_SECONDS):
        self.client = client
        self.project = project
        # How long a statement keeps retrying while BigQuery does not answer (connection refused, 5xx) before it
        # reports WAREHOUSE_UNAVAILABLE; the client library's own default is 600 s.
        self.unavailable_after = unavailable_after

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
        from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY

        config = bigquery.QueryJobConfig(query_parameters=query_parameters(params))
        retry = DEFAULT_RETRY.with_timeout(self.unavailable_after)
        job_retry = DEFAULT_JOB_RETRY.with_timeout(self.unavailable_after)
        give_up_at = time.monotonic() + CONFLICT_RETRY_SECONDS
        for attempt in itertools.count(1):
            try:
                return self.client.query_and_wait(sql, job_config=config, retry=retry, job_retry=job_retry)
            except exceptions.BadRequest as exc:
                if not is_conflict(exc):
                    raise
                if time.monotonic() >= give_up_at:
                    raise TransientError(
                        "WAREHOUSE_CONTENDED", "Too many concurrent updates; retry."
                    ) from exc
                time.sleep(random.uniform(0, min(0.02 * 2 ** min(attempt, 6), 1.0)))  # full jitter, capped
            except (
                exceptions.ServiceUnavailable,
                exceptions.InternalServerError,
                exceptions.TooManyRequests,
            ) as exc:
                raise TransientError("WAREHOUSE_UNAVAILABLE", f"BigQuery is unavailable: {exc.code}") from exc
            # Retries used up, or a connection error the client does not retry (requests' errors are OSErrors).
            except (exceptions.RetryError, OSError) as exc:
                raise TransientError(
                    "WAREHOUSE_UNAVAILABLE", f"BigQuery did not answer within {self.unavailable_after:.0f} s."
                ) from exc
        raise AssertionError("unreachable")

    def ping(self, timeout: float) -> None:
        """Raise unless BigQuery answers a trivial query within `timeout` seconds (no retries)."""
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        self.client.query_and_wait(
            "SELECT 1",
            api_timeout=timeout,
            wait_timeout=timeout,
            retry=DEFAULT_RETRY.with_timeout(timeout),
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
        """Create the table from its spec, or add the NULLABLE columns the spec gained since it was created."""
        from google.cloud import bigquery

        table = bigquery.Table(self.table_id(dataset, spec.name), schema=spec.bigquery_schema())
        table.description = spec.description
        if spec.partition_field:
            table.time_partitioning = bigquery.TimePartitioning(
                type_=spec.partition_type, field=spec.partition_field
            )
        if spec.clustering:
            table.clustering_fields = list(spec.clustering)
        existing = self.client.create_table(table, exists_ok=True)
        self._add_missing_columns(existing, spec)

    def _add_missing_columns(self, table, spec: TableSpec) -> None:
        """Additive schema evolution, the only kind BigQuery allows in place: new columns are appended NULLABLE
        (old rows read NULL). A spec that drops, renames or retypes a column needs a migration, not this."""
        present = {field.name for field in table.schema}
        missing = [column for column in spec.columns if column.name not in present]
        if not missing:
            return
        required = [column.name for column in missing if column.mode == "REQUIRED"]
        if required:
            raise SchemaDriftError(
                f"table {table.dataset_id}.{table.table_id} predates its spec: new REQUIRED columns {required} "
                "cannot be added in place; migrate the table (locally: delete .local/ to start from empty data)"
            )
        table.schema = [*table.schema, *(column.bigquery_field() for column in missing)]
        self.client.update_table(table, ["schema"])

    def replace_slice(
        self,
        dataset: str,
        spec: TableSpec,
        rows: list[dict],
        start: date,
        end: date,
        match: dict[str, Any] | None = None,
    ) -> int:
        """Replace every row of `spec` whose slice field is within [start, end] (and `match`) by `rows`, atomically."""
        if can_inline(spec, rows):
            fields = ", ".join(f"r.`{name}`" for name in spec.column_names)
            select = f"SELECT {fields} FROM UNNEST(@slice_rows) AS r"
            self.replace_slice_with_query(
                dataset, spec, select, {"slice_rows": InlineRows(spec, rows)}, start, end, match
            )
            return len(rows)
        stage = self.table_id(dataset, f"_stage_{spec.name}_{uuid.uuid4().hex[:12]}")
        self._load_stage(stage, spec, rows)
        columns = ", ".join(f"`{name}`" for name in spec.column_names)
        try:
            self.replace_slice_with_query(
                dataset, spec, f"SELECT {columns} FROM `{stage}`", {}, start, end, match
            )
        finally:
            self.client.delete_table(stage, not_found_ok=True)
        return len(rows)

    def replace_slice_with_query(
        self,
        dataset: str,
        spec: TableSpec,
        select_sql: str,
        params: dict[str, Any],
        start: date,
        end: date,
        match: dict[str, Any] | None = None,
    ) -> int:
        """Replace the slice (as in replace_slice) by what `select_sql` returns, in one transaction; returns the
        rows the slice holds then. `select_sql` yields the columns in order and may use `params` and @slice_*."""
        target = self.table_id(dataset, spec.name)
        where, match_params = slice_condition(spec, match)
        columns = ", ".join(f"`{name}`" for name in spec.column_names)
        # One transaction: readers see the old slice or the new one, never a half-loaded day.
        script = f"""
        BEGIN TRANSACTION;
        DELETE FROM `{target}` WHERE {where};
        INSERT INTO `{target}` ({columns}) {select_sql};
        COMMIT TRANSACTION;
        SELECT COUNT(*) AS n FROM `{target}` WHERE {where};
        """
        rows = self.query(script, {**params, **match_params, "slice_start": start, "slice_end": end})
        return rows[0]["n"]

    def load_parquet_stage(self, stage: str, spec: TableSpec, parquet_file, append: bool = False) -> None:
        """Load a Parquet file (path or binary file object) into `stage`, typed by `spec`: replacing, or appending."""
        from google.cloud import bigquery

        options = bigquery.ParquetOptions()
        options.enable_list_inference = True  # a Parquet LIST is a REPEATED column, not a RECORD of "list"
        disposition = (
            bigquery.WriteDisposition.WRITE_APPEND if append else bigquery.WriteDisposition.WRITE_TRUNCATE
        )
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            schema=spec.bigquery_schema(),
            write_disposition=disposition,
            parquet_options=options,
        )
        if isinstance(parquet_file, (str, os.PathLike)):
            with open(parquet_file, "rb") as handle:
                self.client.load_table_from_file(handle, stage, job_config=config).result()
        else:
            self.client.load_table_from_file(parquet_file, stage, job_config=config).result()

    def _load_stage(self, stage: str, spec: TableSpec, rows: list[dict]) -> None:
        self.load_parquet_stage(stage, spec, rows_to_parquet(rows, spec))


class StageWriter:
    """Arrow data → a staging table, through Parquet files of at most ~`chunk_rows` rows on local disk.

    Rows never become Python objects, and memory stays bounded by one chunk whatever the total: each full chunk is
    loaded by one load job (the first replaces the stage, the others append). `finish()` loads the rest.
    """

    def __init__(self, warehouse: Warehouse, stage: str, spec: TableSpec, chunk_rows: int = 1_000_000):
        import tempfile

        self.warehouse, self.stage, self.spec, self.chunk_rows = warehouse, stage, spec, chunk_rows
        self.schema = arrow_schema(spec)
        self._folder = tempfile.TemporaryDirectory(prefix="dps-stage-")
        self._path = os.path.join(self._folder.name, "chunk.parquet")
        self._writer, self._in_chunk, self._loads, self.rows = None, 0, 0, 0

    def write(self, data) -> None:
        """Add a RecordBatch or Table (cast to the stage's schema: names, nesting and decimal types must fit)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._path, self.schema)
        self._writer.write_table(table.cast(self.schema))
        self._in_chunk, self.rows = self._in_chunk + table.num_rows, self.rows + table.num_rows
        if self._in_chunk >= self.chunk_rows:
            self._flush()

    def _flush(self) -> None:
        self._writer.close()
        self.warehouse.load_parquet_stage(self.stage, self.spec, self._path, append=self._loads > 0)
        self._writer, self._in_chunk, self._loads = None, 0, self._loads + 1

    def finish(self) -> int:
        """Load what is left (an empty stage if nothing was written: the caller's SQL reads it); returns rows."""
        import pyarrow.parquet as pq

        try:
            if self._writer is not None:
                self._flush()
            if self._loads == 0:
                pq.write_table(self.schema.empty_table(), self._path)
                self.warehouse.load_parquet_stage(self.stage, self.spec, self._path)
        finally:
            self._folder.cleanup()
        return self.rows
