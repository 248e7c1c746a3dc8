"""Rows as Arrow and Parquet typed by a table spec (NUMERIC stays decimal), and the chunked stage writer."""

from __future__ import annotations

import io
import os

from shared.warehouse.schemas import TableSpec


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


def _arrow_field(column, nested: bool = False):
    import pyarrow as pa

    if column.type == "RECORD":
        type_ = pa.struct([_arrow_field(sub, nested=True) for sub in column.fields])
    else:
        type_ = _arrow_type(column.type)
    if column.mode == "REPEATED":
        # A top-level REPEATED column is never NULL (an empty list at most). Inside a RECORD it is NULL wherever the
        # record is (a GCP export row without a project has no project.labels), so it must be nullable there.
        return pa.field(column.name, pa.list_(type_), nullable=nested)
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


class StageWriter:
    """Arrow data → a staging table, through Parquet files of at most ~`chunk_rows` rows on local disk.

    Rows never become Python objects, and memory stays bounded by one chunk whatever the total: each full chunk is
    loaded by one load job (the first replaces the stage, the others append). `finish()` loads the rest.
    """

    def __init__(self, warehouse, stage: str, spec: TableSpec, chunk_rows: int = 1_000_000):
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
