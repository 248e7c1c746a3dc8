"""Streamed reads of export files: Parquet by row group through ranged reads, gzip CSV block by block. Memory holds
one batch (plus one row group's pages for Parquet), never the file."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pyarrow as pa

from shared.platform.errors import TerminalError
from shared.providers.kit.exports.model import ExportFile, ExportSource, ExportSpec

CSV_BLOCK_BYTES = 4 << 20  # one CSV block decoded at a time


def file_batches(source: ExportSource, file: ExportFile, spec: ExportSpec) -> Iterator[pa.RecordBatch]:
    """The file's rows as record batches of at most spec.batch_rows rows."""
    stream = source.open(file)
    try:
        if file.format == "parquet":
            yield from _parquet_batches(stream, file, spec.batch_rows)
        elif file.format == "csv":
            yield from _csv_batches(stream, file, spec)
        else:
            raise TerminalError(
                "PROVIDER_BAD_DATA", f"export file {file.name} has an unknown format {file.format}"
            )
    finally:
        stream.close()


def _parquet_batches(stream, file: ExportFile, batch_rows: int) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.PythonFile(stream, mode="r"), pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        _bad_file(file, exc)
    # pre_buffer off and one row group at a time: memory is a row group's pages and one batch.
    yield from parquet.iter_batches(batch_size=batch_rows, use_threads=False)


def _csv_batches(stream, file: ExportFile, spec: ExportSpec) -> Iterator[pa.RecordBatch]:
    from pyarrow import csv

    text = gzip.GzipFile(fileobj=stream, mode="rb") if file.compression == "gzip" else stream
    convert = csv.ConvertOptions(column_types=spec.csv_types or {}, strings_can_be_null=True)
    try:
        reader = csv.open_csv(
            text, read_options=csv.ReadOptions(block_size=CSV_BLOCK_BYTES), convert_options=convert
        )
        for batch in reader:
            for offset in range(0, batch.num_rows, spec.batch_rows):
                yield batch.slice(offset, spec.batch_rows)
    except (pa.ArrowInvalid, gzip.BadGzipFile, EOFError) as exc:
        _bad_file(file, exc)


def _bad_file(file: ExportFile, exc: Exception):
    raise TerminalError(
        "PROVIDER_BAD_DATA", f"export file {file.name} is not readable {file.format}: {str(exc)[:200]}"
    ) from None
