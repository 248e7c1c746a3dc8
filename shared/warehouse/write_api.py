"""Staging tables written through the BigQuery Storage Write API's default stream: Arrow batches, no load job.

Why the default stream and not a PENDING stream per stage (BigQuery: Quotas and limits, Storage Write API, read
2026-11-30): CreateWriteStream, which every PENDING or BUFFERED stream needs, is limited to 10,000 streams an hour
per project and region; a nightly fleet of 100,000 orgs stages 200,000 GCP slices (raw and FOCUS rows), which
would need 20 hours of that quota, 10 times the 2-hour window (load jobs, 100,000 a day, allowed half the fleet).
The default stream needs no CreateWriteStream, Finalize or BatchCommit; its appends are committed as they are
acknowledged but only at least once (a retried request may land twice). So a stage is never trusted blindly: the
transaction that reads it first asserts that it holds exactly the rows sent (`stage_check_sql`), in the same
script, and a mismatch rolls the whole replacement back (the caller rebuilds the stage or retries the step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from shared.platform.errors import TransientError
from shared.warehouse.arrow import arrow_schema
from shared.warehouse.schemas import Column, TableSpec

# AppendRows accepts requests of at most 10 MB (Quotas and limits, Storage Write API: "Request size"). A request
# carries one serialized record batch (plus, first on a connection, the schema and the stream name): batches are
# cut to at most 8 MB, leaving room for that envelope.
REQUEST_LIMIT_BYTES = 10_000_000
BATCH_TARGET_BYTES = 8_000_000
# The ASSERT's description, which BigQuery (and the stand-in) returns as the failed script's message.
STAGE_MISMATCH = "staged rows differ from the rows sent"


def stage_spec(spec: TableSpec) -> TableSpec:
    """The spec a stage is created with: JSON columns as STRING (sent as text, parsed once by the INSERT)."""
    columns = tuple(dataclasses.replace(c, type="STRING") if c.type == "JSON" else c for c in spec.columns)
    return dataclasses.replace(spec, columns=columns)


def stage_select(columns: tuple[Column, ...]) -> str:
    """The column list reading a stage into its target: JSON parsed from the staged text."""
    return ", ".join(f"PARSE_JSON(`{c.name}`)" if c.type == "JSON" else f"`{c.name}`" for c in columns)


def stage_check_sql(stage: str, rows_param: str) -> str:
    """A statement failing the script (and so its transaction) unless `stage` holds exactly @rows_param rows."""
    return f"ASSERT (SELECT COUNT(*) FROM `{stage}`) = @{rows_param} AS '{STAGE_MISMATCH}';"


def is_stage_mismatch(exc: Exception) -> bool:
    """True for the error of a script whose stage check failed."""
    return STAGE_MISMATCH in str(exc)


def stage_table_ids(warehouse, dataset: str, specs) -> dict[str, str]:
    """Staging table ids, one per spec, sharing a name suffix unique to the load."""
    import uuid

    suffix = uuid.uuid4().hex[:12]
    return {spec.name: warehouse.table_id(dataset, f"_stage_{spec.name}_{suffix}") for spec in specs}


def default_stream(table_id: str) -> str:
    """The default stream's resource name of a table given as project.dataset.table."""
    project, dataset, table = table_id.split(".")
    return f"projects/{project}/datasets/{dataset}/tables/{table}/streams/_default"


def request_batches(data, target_bytes: int = BATCH_TARGET_BYTES) -> Iterator[bytes]:
    """`data` (Table or RecordBatch) as serialized record batches of at most ~`target_bytes` each: small chunks
    are joined (copying at most one request's worth, never the whole table), big ones halved."""
    import pyarrow as pa

    table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
    pending, size = [], 0
    for batch in table.to_batches():
        if pending and size + batch.nbytes > target_bytes:
            yield from _split(_joined(pending), target_bytes)
            pending, size = [], 0
        pending.append(batch)
        size += batch.nbytes
    if pending:
        yield from _split(_joined(pending), target_bytes)


def _joined(batches: list):
    import pyarrow as pa

    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _split(batch, target_bytes: int) -> Iterator[bytes]:
    """Serialize `batch`, halving it until each part fits (a single row larger than the limit is refused)."""
    serialized = batch.serialize()
    if serialized.size <= target_bytes:
        if batch.num_rows:
            yield serialized.to_pybytes()
        return
    if batch.num_rows == 1:
        raise ValueError(f"one row serializes to {serialized.size} bytes, over the AppendRows request limit")
    half = batch.num_rows // 2
    yield from _split(batch.slice(0, half), target_bytes)
    yield from _split(batch.slice(half), target_bytes)


class StageWriter:
    """Arrow data → a new staging table typed by `spec` (tables.insert), appended through the default stream.

    Each `write()` is one AppendRows connection of as many requests as its data needs; memory holds one write's
    data. `rows` counts what was sent: the transaction reading the stage checks it (`stage_check_sql`).
    """

    def __init__(self, warehouse, stage: str, spec: TableSpec):
        from google.cloud import bigquery

        self.warehouse, self.stage, self.spec = warehouse, stage, stage_spec(spec)
        self.schema = arrow_schema(self.spec)
        self.rows = 0
        warehouse.client.create_table(bigquery.Table(stage, schema=self.spec.bigquery_schema()))

    def write(self, data) -> None:
        """Append a RecordBatch or Table (cast to the stage's schema: names, nesting and decimal types must fit)."""
        import pyarrow as pa

        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        if not table.num_rows:
            return
        table = table.cast(self.schema)
        self._append(request_batches(table))
        self.rows += table.num_rows

    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        """Append Python rows (dicts by column name; NUMERIC as Decimal, never float)."""
        import pyarrow as pa

        columns = {c.name: [row.get(c.name) for row in rows] for c in self.spec.columns}
        self.write(pa.table(columns, schema=self.schema))

    def _append(self, batches: Iterator[bytes]) -> None:
        """One AppendRows call: the schema goes with the first request only; every response must be a success."""
        from google.api_core import exceptions
        from google.cloud.bigquery_storage_v1 import types

        stream = default_stream(self.stage)
        schema = types.ArrowSchema(serialized_schema=self.schema.serialize().to_pybytes())

        def requests():
            for index, batch in enumerate(batches):
                arrow = types.AppendRowsRequest.ArrowData(
                    rows=types.ArrowRecordBatch(serialized_record_batch=batch)
                )
                if index == 0:
                    arrow.writer_schema = schema
                yield types.AppendRowsRequest(write_stream=stream, arrow_rows=arrow)

        client = self.warehouse.write_client
        try:
            for response in client.append_rows(requests(), timeout=self.warehouse.unavailable_after):
                if response.row_errors or response.error.code:
                    # Refused rows are a mismatch of data and schema, not an outage: fail loudly.
                    first = response.row_errors[0].message if response.row_errors else response.error.message
                    raise RuntimeError(f"BigQuery refused rows appended to {self.stage}: {first}")
        except (exceptions.GoogleAPICallError, exceptions.RetryError, OSError) as exc:
            # What reached the stage is unknown: the stage check of the transaction reading it decides.
            raise TransientError(
                "WAREHOUSE_UNAVAILABLE", f"BigQuery did not take rows for {self.stage}."
            ) from exc
