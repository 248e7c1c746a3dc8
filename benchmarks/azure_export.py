"""Benchmark: an Azure Cost Management FOCUS export month of 1M and 5M rows (synthetic FocusCost 1.0 rows, gzip CSV or
Parquet, 500k-row blobs, written streaming into Azurite) read by the export loader, each round in a fresh process
so its peak RSS is its own (VmHWM of /proc/self/status: reset by exec, unlike getrusage's ru_maxrss, which a child
inherits from the process that forked it, here the generator's). Measured side by side in the same run:

  baseline-whole   bare pyarrow reading each blob whole (pyarrow.csv.read_csv / parquet.read_table over the same
                   ranged blob reader), one blob at a time: the floor of time; memory grows with the blob
  loader-stream    the loader's read path: streamed batches → charge-day filter → to_raw → to_focus, nothing
                   written (the loader's own memory)
  loader-full      load_cost_export itself with the BigQuery stand-in: staged through the Storage Write API, one
                   transaction (opt-in with --full-sizes: millions of rows through the local stand-in take long)

Prints medians; asserts nothing.

    .venv/bin/python benchmarks/azure_export.py [--sizes 1000000 5000000] [--rounds 3] [--format csv.gz|parquet]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script

DUCKDB_HOME = Path(tempfile.gettempdir()) / "dps-benchmark-duckdb-home"
MONTH, LAST = date(2025, 10, 1), date(2025, 10, 31)
PROJECT = "bench-service"
ROWS_PER_BLOB = 500_000


def metadata(rows: int, file_format: str) -> dict:
    """The export of a month of `rows` rows."""
    name = f"month-{rows}-{file_format.replace('.', '')}"
    return {"storage_account": "benchexports", "container": "bench-exports", "directory": "focus",
            "export_name": name, "tenant_id": "72f988bf-0000-4000-8000-000000000b01",
            "client_id": "0c5a7b2e-0000-4000-8000-000000000b02"}  # fmt: skip


def settings_for(azurite: str, bigquery: tuple[str, str] | None):
    from shared.platform.settings import settings_from_env

    env = {"GCP_PROJECT_ID": PROJECT, "ENVIRONMENT": "local", "AZURE_STORAGE_ENDPOINT": azurite,
           "KMS_KEY_NAME": f"projects/{PROJECT}/locations/global/keyRings/dps/cryptoKeys/credentials"}  # fmt: skip
    if bigquery:
        env.update(BIGQUERY_API_ENDPOINT=bigquery[0], BIGQUERY_STORAGE_API_ENDPOINT=bigquery[1])
    return settings_from_env(env)


def _whole(source, file) -> int:
    import pyarrow as pa

    with source.open(file) as stream:
        if file.format == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(pa.PythonFile(stream, mode="r")).num_rows
        from pyarrow import csv

        compression = "gzip" if file.compression == "gzip" else None
        with pa.input_stream(pa.PythonFile(stream, mode="r"), compression=compression) as text:
            return csv.read_csv(text).num_rows


def peak_mb() -> float:
    """This process's peak resident memory so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(mode: str, rows: int, file_format: str, azurite: str, bigquery: list[str] | None) -> dict:
    """One round in this (fresh) process: seconds, rows seen and the peak RSS."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from shared.providers.azure.source import AzureExportSource
    from shared.providers.azure.steps import export_spec, load_cost_export
    from shared.providers.kit.exports.read import file_batches
    from shared.providers.kit.exports.state import days
    from tests.kit.steps import step_context

    settings = settings_for(azurite, tuple(bigquery) if bigquery else None)
    meta = metadata(rows, file_format)
    ctx = step_context("azure", MONTH, LAST, "", metadata=meta, settings=settings, org_slug="bench",
                       destination_table="azure_cost_export", seconds=3600, exact_window=True)  # fmt: skip
    before = peak_mb()
    began, seen = time.perf_counter(), 0
    if mode == "loader-full":
        from shared.platform.clients import make_bigquery_client, make_bigquery_write_client
        from shared.warehouse.adapter import Warehouse
        from shared.warehouse.datasets import ensure_org_dataset

        warehouse = Warehouse(
            make_bigquery_client(settings), PROJECT, write_client=make_bigquery_write_client(settings)
        )
        slug = f"bench_{rows}_{int(time.time() * 1000)}"
        ensure_org_dataset(settings, warehouse, slug, "azure")
        began = time.perf_counter()
        seen = load_cost_export(__import__("dataclasses").replace(ctx, org_slug=slug), warehouse) // 2
    else:
        source = AzureExportSource(ctx)
        [delivery] = source.deliveries(MONTH, LAST)
        if mode == "baseline-whole":
            seen = sum(_whole(source, file) for file in delivery.files)
        else:
            spec = export_spec(settings.config_dir)
            wanted = pa.array(days(MONTH, LAST), pa.date32())
            audit = {"x_pipeline_logging_id": "bench", "x_ingested_at": datetime.now(UTC)}
            for file in delivery.files:
                for batch in file_batches(source, file, spec):
                    batch = batch.filter(pc.is_in(spec.charge_days(batch), value_set=wanted))
                    raw = spec.to_raw(batch)
                    raw = raw.append_column("billing_period", pa.repeat(pa.scalar(MONTH), raw.num_rows))
                    spec.to_focus(raw, audit)
                    seen += batch.num_rows
    seconds = time.perf_counter() - began
    return {"mode": mode, "rows": rows, "seen": seen, "seconds": seconds, "peak_mb": peak_mb(),
            "imports_mb": before}  # fmt: skip


def _round(mode: str, rows: int, file_format: str, azurite: str, bigquery) -> dict:
    argv = [sys.executable, __file__, "--child", mode, "--rows", str(rows), "--format", file_format,
            "--azurite", azurite]  # fmt: skip
    if bigquery:
        argv += ["--bigquery", *bigquery]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise RuntimeError(f"round {mode} {rows} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_month(azurite: str, rows: int, file_format: str) -> None:
    """A month of `rows` rows (31 days) as one export run of ROWS_PER_BLOB-row blobs, generated streaming."""
    from devstack.providers.azure.export import bulk_batches
    from devstack.providers.azure.layout import ExportLocation, local_container, write_run

    meta = metadata(rows, file_format)
    batches = bulk_batches(MONTH, 31, -(-rows // 31), batch_rows=100_000)
    files = _blobs(_limit(batches, rows), ROWS_PER_BLOB)
    write_run(local_container(azurite, meta["container"]), ExportLocation.of(meta), MONTH, files,
              run_id=f"bench-{rows}", submitted="2025-11-02T06:00:00Z", overwrite=True,
              file_format=file_format)  # fmt: skip


def _limit(batches, rows: int):
    left = rows
    for batch in batches:
        if left <= 0:
            return
        yield batch.slice(0, left)
        left -= min(left, batch.num_rows)


def _blobs(batches, per_blob: int):
    """The batches cut into blobs of at least `per_blob` rows (whole batches; write_run reads each blob's batches
    before asking for the next blob)."""
    iterator = iter(batches)

    def blob(first):
        count, batch = 0, first
        while batch is not None:
            yield batch
            count += batch.num_rows
            if count >= per_blob:
                return
            batch = next(iterator, None)

    for first in iterator:
        yield blob(first)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-rounds", type=int, default=1, help="rounds for sizes over 1M")
    parser.add_argument("--full-sizes", type=int, nargs="*", default=[])
    parser.add_argument("--format", choices=("csv.gz", "parquet"), default="csv.gz")
    parser.add_argument("--child"), parser.add_argument("--rows", type=int), parser.add_argument("--azurite")
    parser.add_argument("--bigquery", nargs=2)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.format, args.azurite, args.bigquery)))
        return 0
    return orchestrate(args)


def orchestrate(args) -> int:
    from devstack.processes import free_port
    from devstack.standins.azurite import AZURITE_STANDIN
    from devstack.standins.bigquery import launch_bigquery

    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        azurite = AZURITE_STANDIN.launch(Path(folder), port)
        rest = free_port(taken={port})
        grpc = free_port(taken={port, rest})
        bq = None
        if args.full_sizes:
            bq = launch_bigquery(Path(folder) / "bq", rest, grpc, PROJECT, duckdb_home=DUCKDB_HOME)
        try:
            azurite.wait_ready()
            if bq:
                bq.wait_ready()
            url = AZURITE_STANDIN.url(port)
            for rows in args.sizes:
                began = time.perf_counter()
                write_month(url, rows, args.format)
                print(f"generated {rows:,} rows ({args.format}) into Azurite in {time.perf_counter() - began:.1f} s",
                      flush=True)  # fmt: skip
                rounds = args.rounds if rows <= 1_000_000 else args.big_rounds
                modes = ["baseline-whole", "loader-stream"] + (
                    ["loader-full"] if rows in args.full_sizes else []
                )
                for mode in modes:
                    bigquery = [bq.url, bq.grpc_address] if bq else None
                    results = [_round(mode, rows, args.format, url, bigquery) for _ in range(rounds)]
                    print(
                        f"{rows:>9,} rows  {mode:<15} rounds={rounds}  median "
                        f"{statistics.median(r['seconds'] for r in results):6.1f} s  peak RSS median "
                        f"{statistics.median(r['peak_mb'] for r in results):7.0f} MB  (after imports "
                        f"{statistics.median(r['imports_mb'] for r in results):4.0f} MB; rows seen {results[0]['seen']:,})",
                        flush=True,
                    )
        finally:
            azurite.stop()
            if bq:
                bq.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
