"""BigQuery adapter: parameterised queries, tables from schema specs, and all-or-nothing slice replacement."""

from __future__ import annotations

import itertools
import random
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.platform.errors import TransientError
from shared.warehouse.params import InlineRows, can_inline, query_parameters
from shared.warehouse.schemas import TableSpec
from shared.warehouse.write_api import StageWriter, is_stage_mismatch, stage_check_sql, stage_select

# Concurrent DML/transactions on one table abort all but one (BigQuery: "Could not serialize access ... due to
# concurrent update" / "Transaction is aborted due to concurrent update"; the emulator: "Failed to commit").
# The statement is all-or-nothing, so running it again is safe.
_CONFLICT_MARKERS = ("concurrent update", "could not serialize", "failed to commit", "transaction is aborted")
CONFLICT_RETRY_SECONDS = 30.0  # how long one statement keeps retrying lost races before it reports contention
# How long a statement waits out a BigQuery that does not answer: a worker rides out a short outage inside its
# run; the API answers 503 with Retry-After soon instead of holding the caller's connection (see Warehouse).
WORKER_UNAVAILABLE_AFTER_SECONDS = 120.0
# The table label holding its spec's schema digest: a table listing (labels included) shows which tables a deploy
# added columns to, so runs evolve those and skip the rest without a metadata read per table.
SCHEMA_LABEL = "dps_schema"
API_UNAVAILABLE_AFTER_SECONDS = 10.0


def _json_value(value: Any) -> Any:
    """A value as insertAll's JSON carries it: timestamps and dates as ISO strings, NUMERIC as an exact string."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def is_conflict(exc: Exception) -> bool:
    """True for the error BigQuery gives a statement that lost a race with a concurrent write."""
    return any(marker in str(exc).lower() for marker in _CONFLICT_MARKERS)


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

    def __init__(
        self,
        client,
        project: str,
        unavailable_after: float = WORKER_UNAVAILABLE_AFTER_SECONDS,
        write_client=None,
    ):
        self.client = client
        self.project = project
        # How long a statement keeps retrying while BigQuery does not answer (connection refused, 5xx) before it
        # reports WAREHOUSE_UNAVAILABLE; the client library's own default is 600 s.
        self.unavailable_after = unavailable_after
        self._write_client = write_client

    @property
    def write_client(self):
        """The Storage Write API client staging rows; made from this process's settings on first use if none
        was given (only slices too big to send inline need it)."""
        if self._write_client is None:
            from shared.platform.clients import make_bigquery_write_client
            from shared.platform.settings import get_settings

            self._write_client = make_bigquery_write_client(get_settings())
        return self._write_client

    def table_id(self, dataset: str, table: str) -> str:
        return f"{self.project}.{dataset}.{table}"

    def query(
        self, sql: str, params: dict[str, Any] | None = None, *, maximum_bytes_billed: int | None = None
    ) -> list[dict]:
        """Run a parameterised query (or script: its last SELECT) and return its rows as dicts; a job that would
        bill more than `maximum_bytes_billed` fails instead."""
        return [dict(row.items()) for row in self._run(sql, params, maximum_bytes_billed)]

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """Run a parameterised DML statement; returns the rows it affected."""
        return self._run(sql, params).num_dml_affected_rows or 0

    def _run(self, sql: str, params: dict[str, Any] | None, maximum_bytes_billed: int | None = None):
        """One round trip (jobs.query); a statement that lost a write race is run again, with jitter."""
        from google.api_core import exceptions
        from google.cloud import bigquery
        from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY

        config = bigquery.QueryJobConfig(query_parameters=query_parameters(params))
        if maximum_bytes_billed is not None:
            config.maximum_bytes_billed = maximum_bytes_billed
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

    def append_rows(self, dataset: str, table: str, rows: list[dict], row_ids: list[str]) -> None:
        """Stream `rows` into an append-only table (tabledata.insertAll: no job, no DML, no table lock);
        `row_ids` are insert ids, so BigQuery drops a row sent twice by a retry (best effort: readers that
        must be exact dedupe on them too). TransientError if BigQuery refuses or does not answer."""
        from google.api_core import exceptions
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        if not rows:
            return
        try:
            errors = self.client.insert_rows_json(
                self.table_id(dataset, table),
                [{key: _json_value(value) for key, value in row.items()} for row in rows],
                row_ids=row_ids,
                retry=DEFAULT_RETRY.with_timeout(self.unavailable_after),
            )
        except (exceptions.GoogleAPICallError, exceptions.RetryError, OSError) as exc:
            raise TransientError("WAREHOUSE_UNAVAILABLE", f"BigQuery refused an append to {table}.") from exc
        if errors:
            raise TransientError(
                "WAREHOUSE_UNAVAILABLE", f"BigQuery refused rows appended to {table}: {errors[:1]}"
            )

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

    def ensure_dataset(self, dataset: str, location: str | None = None):
        """Create the dataset if it does not exist; returns it as BigQuery has it (access list, etag)."""
        from google.cloud import bigquery

        ds = bigquery.Dataset(f"{self.project}.{dataset}")
        if location:
            ds.location = location
        return self.client.create_dataset(ds, exists_ok=True)

    def ensure_table(self, dataset: str, spec: TableSpec) -> None:
        """Create the table from its spec, or add the NULLABLE columns the spec gained since it was created; either
        way the table is labelled with the spec's schema digest (SCHEMA_LABEL), so a listing shows it is current."""
        from google.api_core import exceptions
        from google.cloud import bigquery

        table = bigquery.Table(self.table_id(dataset, spec.name), schema=spec.bigquery_schema())
        table.description = spec.description
        table.labels = {SCHEMA_LABEL: spec.schema_digest}
        if spec.partition_field:
            table.time_partitioning = bigquery.TimePartitioning(
                type_=spec.partition_type, field=spec.partition_field
            )
        if spec.clustering:
            table.clustering_fields = list(spec.clustering)
        existing = self._create_table(table)
        for attempt in range(3):
            changed = self._add_missing_columns(existing, spec)
            if existing.labels.get(SCHEMA_LABEL) != spec.schema_digest:
                existing.labels = {**existing.labels, SCHEMA_LABEL: spec.schema_digest}
                changed.append("labels")
            if not changed:
                return
            try:
                self.client.update_table(existing, changed)
                return
            except (exceptions.BadRequest, exceptions.PreconditionFailed) as exc:
                # Two runs of one org evolving the same table after a deploy: the loser reads it again and
                # finds the columns there (or adds what is still missing).
                if not (is_conflict(exc) or isinstance(exc, exceptions.PreconditionFailed)) or attempt == 2:
                    raise
                existing = self.client.get_table(existing.reference)

    def _create_table(self, table):
        """Create a table unless it exists; a creation that lost a race with another (two slices of one org's first
        run of a provider) finds the winner's table, whichever error the race gives (409, or a failed commit)."""
        from google.api_core import exceptions

        attempts = 3
        while True:
            try:
                return self.client.create_table(table, exists_ok=True)  # the next try sees the winner's table
            except exceptions.BadRequest as exc:
                attempts -= 1
                if not is_conflict(exc) or not attempts:
                    raise

    def _add_missing_columns(self, table, spec: TableSpec) -> list[str]:
        """Additive schema evolution, the only kind BigQuery allows in place: new columns are appended NULLABLE
        (old rows read NULL). A spec that drops, renames or retypes a column needs a migration, not this.
        Returns the table's fields to update (["schema"] when columns were added to `table`)."""
        present = {field.name for field in table.schema}
        missing = [column for column in spec.columns if column.name not in present]
        if not missing:
            return []
        required = [column.name for column in missing if column.mode == "REQUIRED"]
        if required:
            raise SchemaDriftError(
                f"table {table.dataset_id}.{table.table_id} predates its spec: new REQUIRED columns {required} "
                "cannot be added in place; migrate the table (locally: delete .local/ to start from empty data)"
            )
        table.schema = [*table.schema, *(column.bigquery_field() for column in missing)]
        return ["schema"]

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
        return self._replace_through_stage(dataset, spec, rows, start, end, match)

    def _replace_through_stage(self, dataset, spec, rows, start, end, match) -> int:
        """replace_slice for a slice too big to send inline: rows staged through the Storage Write API."""
        from google.api_core import exceptions

        stage = self.table_id(dataset, f"_stage_{spec.name}_{uuid.uuid4().hex[:12]}")
        select = f"SELECT {stage_select(spec.columns)} FROM `{stage}`"
        check = stage_check_sql(stage, "stage_rows")
        for attempt in (1, 2):
            try:
                writer = StageWriter(self, stage, spec)
                writer.write_rows(rows)
                params = {"stage_rows": writer.rows}
                self.replace_slice_with_query(dataset, spec, select, params, start, end, match, check=check)
                return len(rows)
            except exceptions.BadRequest as exc:
                # The default stream is at least once: a stage holding other than the rows sent is rebuilt once.
                if not is_stage_mismatch(exc):
                    raise
                if attempt == 2:
                    raise TransientError(
                        "WAREHOUSE_UNAVAILABLE", f"Staging {spec.name} twice lost or doubled rows."
                    ) from exc
            finally:
                self.client.delete_table(stage, not_found_ok=True)
        raise AssertionError("unreachable")

    def replace_slice_with_query(
        self,
        dataset: str,
        spec: TableSpec,
        select_sql: str,
        params: dict[str, Any],
        start: date,
        end: date,
        match: dict[str, Any] | None = None,
        check: str = "",
    ) -> int:
        """Replace the slice (as in replace_slice) by what `select_sql` returns, in one transaction; returns the
        rows the slice holds then. `select_sql` yields the columns in order and may use `params` and @slice_*;
        `check`, a statement run first inside the transaction, may abort it (a stage's row count)."""
        return self.replace_slice_and_report(dataset, spec, select_sql, params, start, end, match, check)["n"]

    def replace_slice_and_report(
        self,
        dataset: str,
        spec: TableSpec,
        select_sql: str,
        params: dict[str, Any],
        start: date,
        end: date,
        match: dict[str, Any] | None = None,
        check: str = "",
        report: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """As replace_slice_with_query, and the same job also answers `report` (name -> SQL expression, evaluated
        after the commit; may use @slice_* and `params`): {"n": rows in the slice, name: value, ...}. One job
        instead of a follow-up query (a worker's account gets 100 jobs.query a second: see README, Scale)."""
        target = self.table_id(dataset, spec.name)
        where, match_params = slice_condition(spec, match)
        columns = ", ".join(f"`{name}`" for name in spec.column_names)
        extra = "".join(f", ({expression}) AS `{name}`" for name, expression in (report or {}).items())
        # One transaction: readers see the old slice or the new one, never a half-loaded day.
        script = f"""
        BEGIN TRANSACTION;
        {check}
        DELETE FROM `{target}` WHERE {where};
        INSERT INTO `{target}` ({columns}) {select_sql};
        COMMIT TRANSACTION;
        SELECT (SELECT COUNT(*) FROM `{target}` WHERE {where}) AS n{extra};
        """
        rows = self.query(script, {**params, **match_params, "slice_start": start, "slice_end": end})
        return dict(rows[0])
