"""The BigQuery stand-in's AppendRows for Arrow rows on a committed stream: each batch goes into DuckDB as Arrow.

local-bigquery 0.3.2 turns every Arrow batch into Python dicts, passes them through its insertAll request model and
inserts them as JSON: with the GCP export's nested columns that is ~2,000 rows a second, so the GCP billing
benchmark's 1,000,000 staged rows took ~450 s of the stand-in's CPU (Parquet load jobs: ~5 s). DuckDB reads Arrow
directly. Arrow rows appended to a committed stream (the default stream is one) take this path; proto rows, PENDING
and BUFFERED streams, and appends the package refuses (a finalized stream, a wrong offset) are the package's own.
"""

from __future__ import annotations


class ArrowRows:
    """One request's record batch as the package's append loop carries it (it only takes its length)."""

    def __init__(self, batch):
        self.batch = batch

    def __len__(self) -> int:
        return self.batch.num_rows


def install() -> None:
    """Patch the module functions local_bigquery.grpc.write.append calls for each request (idempotent): its
    gRPC handler holds `append` itself, so the decoder and the per-request append are what can be replaced."""
    from local_bigquery.grpc import write

    if getattr(write._append, "dps_arrow", False):
        return
    package_decoder, package_append = write._decoder, write._append

    def decoder(request):
        if "arrow_rows" not in request:
            return package_decoder(request)
        schema = _schema(request)
        if schema is None:
            return None  # the package keeps the connection's first decoder
        return lambda request, fields: ArrowRows(_batch(request, schema))

    def append(stream, rows, offset):
        if isinstance(rows, ArrowRows):
            if stream.type == write.Type.COMMITTED and _refusal(stream, offset) is None:
                return _insert(write, stream, rows.batch)
            rows = [write._plain(row) for row in rows.batch.to_pylist()]  # the package's own conversion
        return package_append(stream, rows, offset)

    append.dps_arrow = True
    write._decoder, write._append = decoder, append


def _schema(request):
    import pyarrow as pa

    serialized = request.arrow_rows.writer_schema.serialized_schema
    return pa.ipc.read_schema(pa.py_buffer(serialized)) if serialized else None


def _batch(request, schema):
    import pyarrow as pa

    return pa.ipc.read_record_batch(pa.py_buffer(request.arrow_rows.rows.serialized_record_batch), schema)


def _refusal(stream, offset: int | None):
    """Whether the package would refuse this append (it then answers it itself)."""
    if stream.finalized:
        return "finalized"
    if offset is not None and offset != stream.count:
        return "offset"
    return None


def _insert(write, stream, batch):
    """The batch inserted by column name into the stream's table, answered as the package answers."""
    import duckdb
    import grpc
    import pyarrow as pa
    from local_bigquery.catalog import tables
    from local_bigquery.engine import database

    response = write.types.AppendRowsResponse(write_stream=stream.name)
    try:
        with database.cursor() as cur:
            cur.register("dps_arrow_append", pa.Table.from_batches([batch]))
            cur.execute(f"INSERT INTO {tables.name(*stream.table)} BY NAME SELECT * FROM dps_arrow_append")
    except duckdb.Error as error:
        response.error = write._status(grpc.StatusCode.INVALID_ARGUMENT, f"Rows are invalid: {error}")
        return response
    result = write.types.AppendRowsResponse.AppendResult()
    if not stream.name.endswith("/_default"):
        result.offset = stream.count
    stream.count += batch.num_rows
    response.append_result = result
    return response
