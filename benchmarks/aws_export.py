"""Benchmark: an AWS Data Exports month of 1M and 5M rows (synthetic FOCUS rows, Parquet, 500k-row files, written
streaming into the S3 stand-in) read by the export loader, in a fresh process per round so each round's peak RSS
(VmHWM) is its own. Measured side by side in the same run:

  baseline-month   pyarrow.parquet.read_table of every file, kept as one table (a loader that reads the month
                   before it transforms): the floor of time, memory growing with the month
  loader-stream    the loader's read path: streamed batches (ranged GETs) → charge-day filter → to_raw → to_focus,
                   nothing written (isolates the loader's own memory)
  loader-full      load_data_export itself with the BigQuery stand-in: staged through the Storage Write API, one
                   transaction (1M only by default: 5M rows through the local stand-in take long)

Prints medians; asserts nothing.

    .venv/bin/python benchmarks/aws_export.py [--sizes 1000000 5000000] [--rounds 3] [--full-sizes 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script

DUCKDB_HOME = Path(tempfile.gettempdir()) / "dps-benchmark-duckdb-home"
PERIOD, LAST = date(2025, 10, 1), date(2025, 10, 31)
PROJECT = "bench-service"


def metadata(rows: int) -> dict:
    """The export of a month of `rows` rows."""
    return {"bucket": "bench-exports", "prefix": "focus", "export_name": f"month-{rows}", "region": "us-east-1",
            "role_arn": "arn:aws:iam::111122223333:role/bench"}  # fmt: skip


def settings_for(s3: str, bigquery: tuple[str, str] | None):
    from shared.platform.settings import settings_from_env

    env = {"GCP_PROJECT_ID": PROJECT, "ENVIRONMENT": "local", "AWS_STORAGE_ENDPOINT": s3,
           "KMS_KEY_NAME": f"projects/{PROJECT}/locations/global/keyRings/dps/cryptoKeys/credentials"}  # fmt: skip
    if bigquery:
        env.update(BIGQUERY_API_ENDPOINT=bigquery[0], BIGQUERY_STORAGE_API_ENDPOINT=bigquery[1])
    return settings_from_env(env)


def peak_rss_mb() -> float:
    """This process's RSS high-water mark (VmHWM: its own address space's; getrusage's ru_maxrss would carry the
    parent's peak over fork and exec, masking a child that stays below it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, rows: int, s3: str, bigquery: list[str] | None) -> dict:
    """One round in this (fresh) process: returns seconds, rows seen and the peak RSS."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from shared.providers.aws.s3 import s3_client
    from shared.providers.aws.source import S3Export
    from shared.providers.aws.steps import export_spec, load_data_export
    from shared.providers.kit.exports.read import file_batches
    from shared.providers.kit.exports.state import days

    settings = settings_for(s3, tuple(bigquery) if bigquery else None)
    meta = metadata(rows)
    before = peak_rss_mb()
    began, seen = time.perf_counter(), 0
    if mode == "loader-full":
        from shared.platform.clients import make_bigquery_client, make_bigquery_write_client
        from shared.warehouse.adapter import Warehouse
        from shared.warehouse.datasets import ensure_org_dataset
        from tests.kit.steps import step_context

        warehouse = Warehouse(
            make_bigquery_client(settings), PROJECT, write_client=make_bigquery_write_client(settings)
        )
        slug = f"bench_{rows}_{int(time.time() * 1000)}"
        ensure_org_dataset(settings, warehouse, slug, "aws")
        began = time.perf_counter()
        ctx = step_context("aws", PERIOD, LAST, "", metadata=meta, settings=settings, org_slug=slug,
                           destination_table="aws_cost_export", seconds=3600)  # fmt: skip
        seen = load_data_export(ctx, warehouse) // 2  # raw + FOCUS rows
    else:
        export = S3Export(s3_client(meta, settings, 60.0, "dps-bench"), meta)
        [delivery] = export.deliveries(PERIOD, LAST)
        spec = export_spec(settings.config_dir)
        if mode == "baseline-month":
            import pyarrow.parquet as pq

            tables = []  # the month as one table: what a loader that reads before it transforms holds
            for file in delivery.files:
                with export.open(file) as stream:
                    tables.append(pq.read_table(pa.PythonFile(stream, mode="r"), use_threads=False))
            seen = pa.concat_tables(tables).num_rows
        else:
            wanted = pa.array(days(PERIOD, LAST), pa.date32())
            audit = {"x_pipeline_logging_id": "bench", "x_ingested_at": __import__("datetime").datetime.now()}
            for file in delivery.files:
                for batch in file_batches(export, file, spec):
                    batch = batch.filter(pc.is_in(spec.charge_days(batch), value_set=wanted))
                    raw = spec.to_raw(batch).append_column(
                        "billing_period", pa.repeat(pa.scalar(PERIOD), batch.num_rows)
                    )
                    spec.to_focus(raw, audit)
                    seen += batch.num_rows
    seconds = time.perf_counter() - began
    return {"mode": mode, "rows": rows, "seen": seen, "seconds": seconds, "peak_mb": peak_rss_mb(),
            "imports_mb": before}  # fmt: skip


def _round(mode: str, rows: int, s3: str, bigquery) -> dict:
    argv = [sys.executable, __file__, "--child", mode, "--rows", str(rows), "--s3", s3]
    if bigquery:
        argv += ["--bigquery", *bigquery]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode:  # pyarrow's read_table over a Python file sometimes aborts at interpreter exit
        print(f"  {mode} round exited {done.returncode}: {done.stderr.strip()[-300:]}", flush=True)
    if not lines:
        return {"seconds": float("nan"), "peak_mb": float("nan"), "imports_mb": float("nan"), "seen": 0}
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-rounds", type=int, default=1, help="rounds for sizes over 1M")
    parser.add_argument("--full-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--child"), parser.add_argument("--rows", type=int), parser.add_argument("--s3")
    parser.add_argument("--bigquery", nargs=2)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.s3, args.bigquery)))
        return 0
    return orchestrate(args)


def orchestrate(args) -> int:
    from devstack.processes import free_port
    from devstack.providers.aws.export import write_month
    from devstack.standins.bigquery import launch_bigquery
    from devstack.standins.s3 import S3_STANDIN
    from shared.providers.aws.s3 import s3_client

    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        s3 = S3_STANDIN.launch(Path(folder), port)
        rest = free_port(taken={port})
        grpc = free_port(taken={port, rest})
        bq = (
            launch_bigquery(Path(folder) / "bq", rest, grpc, PROJECT, duckdb_home=DUCKDB_HOME)
            if args.full_sizes
            else None
        )
        try:
            s3.wait_ready()
            if bq:
                bq.wait_ready()
            url = S3_STANDIN.url(port)
            client = s3_client(metadata(0), settings_for(url, None), 120.0, "dps-bench")
            client.create_bucket(Bucket="bench-exports")
            for rows in args.sizes:
                began = time.perf_counter()
                meta = metadata(rows)
                write_month(client, meta["bucket"], meta["prefix"], meta["export_name"], PERIOD, LAST,
                            rows_per_day=rows // 31, rows_per_file=500_000)  # fmt: skip
                print(f"generated {rows:,} rows into S3 in {time.perf_counter() - began:.1f} s", flush=True)
                rounds = args.rounds if rows <= 1_000_000 else args.big_rounds
                modes = ["baseline-month", "loader-stream"] + (
                    ["loader-full"] if rows in args.full_sizes else []
                )
                for mode in modes:
                    results = [
                        _round(mode, rows, url, [bq.url, bq.grpc_address] if bq else None)
                        for _ in range(rounds)
                    ]
                    print(
                        f"{rows:>9,} rows  {mode:<15} rounds={rounds}  median {statistics.median(r['seconds'] for r in results):6.1f} s"
                        f"  peak RSS median {statistics.median(r['peak_mb'] for r in results):7.0f} MB"
                        f"  (after imports {statistics.median(r['imports_mb'] for r in results):4.0f} MB;"
                        f" rows seen {results[0]['seen']:,})",
                        flush=True,
                    )
        finally:
            s3.stop()
            if bq:
                bq.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
