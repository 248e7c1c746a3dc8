"""Benchmark: 1,000,000 GCP billing export rows through the pipeline's transform and load on the local stack, in key
mode (rows read into the function, transformed in Python) and granted mode (one SQL job in the warehouse), next to
(a) the key mode with a row-by-row Python transform, (b) a bare DuckDB read-and-write of the same rows, and (c) a
bare copy of them through the local stack; plus the bytes each mode's queries would bill for a month of a
1M-rows-a-day export, from the column sizes of the partitions they touch. Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `.venv/bin/python benchmarks/gcp_billing.py`

from devstack.providers.gcp.export import (
    DEMO_PROJECT,
    ExportSpec,
    demo_service_account_key,
    generate_export,
    write_export,
)
from devstack.stack import LocalStack
from shared.tenancy import onboarding

DUCKDB_HOME = Path(tempfile.gettempdir()) / "dps-benchmark-duckdb-home"  # shared with run_api.py
START = date(2025, 11, 10)
TABLE = "gcp_billing_export_resource_v1_0B0B0B_C4D5E6_F7A8B9"


class Phases:
    """Wall-clock seconds per phase, collected by wrapping the pipeline's own functions (no code path changes)."""

    def __init__(self):
        self.seconds: Counter = Counter()

    def wrap(self, owner, name: str, phase: str) -> None:
        function = getattr(owner, name)

        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - began

        setattr(owner, name, timed)

    def wrap_iterator(self, owner, name: str, phase: str) -> None:
        function = getattr(owner, name)

        def timed(*args, **kwargs):
            iterator, began = function(*args, **kwargs), time.perf_counter()
            for item in iterator:
                self.seconds[phase] += time.perf_counter() - began
                yield item
                began = time.perf_counter()
            self.seconds[phase] += time.perf_counter() - began

        setattr(owner, name, timed)


def _context(args: dict, run_id: str):
    from shared.platform.clients import make_bigquery_client, make_kms_client
    from shared.platform.settings import get_settings
    from shared.providers.contract import StepContext
    from shared.tenancy.credentials import load_credential
    from shared.warehouse.adapter import Warehouse

    settings = get_settings()
    warehouse = Warehouse(make_bigquery_client(settings), settings.project)
    credential = load_credential(warehouse, settings, make_kms_client(settings), args["org"], "gcp")
    ctx = StepContext(
        args["org"],
        run_id,
        date.fromisoformat(args["start"]),
        date.fromisoformat(args["end"]),
        credential,
        settings,
        time.monotonic() + 3600,
        force_refresh=True,
        destination_table="gcp_billing_daily",
    )
    return ctx, warehouse


def _instrumented_load(args: dict, phases: Phases) -> dict:
    from shared.providers.gcp import load
    from shared.warehouse import adapter, write_api

    ctx, warehouse = _context(args, "bench-run")
    phases.wrap_iterator(load, "read_rows", "source query + read")
    phases.wrap(load, "partition_stats", "stats + state")
    phases.wrap(load, "read_state", "stats + state")
    phases.wrap(write_api.StageWriter, "write", "stage (Storage Write API)")
    phases.wrap(adapter.Warehouse, "execute", "commit")
    began = time.perf_counter()
    rows = load.load_billing_export(ctx, warehouse)
    return {"seconds": time.perf_counter() - began, "rows_written": rows, "phases": dict(phases.seconds)}


def part_pipeline(args: dict) -> dict:
    """The shipped step, as the worker runs it (force_refresh: every partition of the range)."""
    from shared.providers.gcp import load

    phases = Phases()
    phases.wrap(load, "raw_rows", "transform")
    phases.wrap(load, "focus_rows", "transform")
    return _instrumented_load(args, phases)


def part_rowwise(args: dict) -> dict:
    """(a): the same step with a straightforward transform: Python dicts, one row at a time, Decimal money."""
    import pyarrow as pa

    from devstack.providers.gcp import rowwise
    from shared.platform.settings import get_settings
    from shared.providers.gcp import load
    from shared.providers.kit.focus import service_classes
    from shared.warehouse.arrow import arrow_schema
    from shared.warehouse.schemas import load_table_specs
    from shared.warehouse.write_api import stage_spec

    settings, phases, pending = get_settings(), Phases(), {}
    specs = load_table_specs(settings.config_dir, "org")
    classes, default = service_classes(settings.config_dir, "Google Cloud")
    focus_schema = arrow_schema(stage_spec(specs["cost_focus"]))

    def raw_rows(table, audit):
        began = time.perf_counter()
        rows = table.to_pylist()
        middle = time.perf_counter()
        pending["raw"] = [rowwise.raw_row(row, audit) for row in rows]
        converted = time.perf_counter()
        out = pa.Table.from_pylist(pending["raw"], schema=arrow_schema(specs["gcp_billing_daily"]))
        phases.seconds["to/from Python"] += middle - began + time.perf_counter() - converted
        phases.seconds["row loop"] += converted - middle
        return out

    def focus_rows(raw, config_dir, run_id, ingested_at):
        began = time.perf_counter()
        rows = rowwise.focus_rows(pending.pop("raw"), classes, default, run_id, ingested_at)
        converted = time.perf_counter()
        out = pa.Table.from_pylist(rows, schema=focus_schema)
        phases.seconds["row loop"] += converted - began
        phases.seconds["to/from Python"] += time.perf_counter() - converted
        return out

    load.raw_rows, load.focus_rows = raw_rows, focus_rows
    return _instrumented_load(args, phases)


def part_granted(args: dict) -> dict:
    """Granted mode, as the worker runs it: the stats query, the units query, then one script job."""
    from shared.providers.gcp import granted

    phases = Phases()
    phases.wrap(granted, "partition_stats", "stats + state")
    phases.wrap(granted, "read_state", "stats + state")
    phases.wrap(granted, "export_units", "units query")
    phases.wrap(granted, "load_script", "SQL generation")
    ctx, warehouse = _context(args, "bench-granted")
    phases.wrap(type(warehouse), "query", "warehouse jobs (script: transform + commit)")
    began = time.perf_counter()
    rows = granted.load_granted(ctx, warehouse)
    return {"seconds": time.perf_counter() - began, "rows_written": rows, "phases": dict(phases.seconds)}


def part_stack_copy(args: dict) -> dict:
    """(c): the same rows read from the export and written into a table of the org's dataset, no transform."""
    import dataclasses
    import uuid

    from devstack.providers.gcp.export_arrow import export_spec
    from shared.providers.gcp.source import open_source, read_rows
    from shared.warehouse.schemas import Column
    from shared.warehouse.write_api import StageWriter

    ctx, warehouse = _context(args, "bench-copy")
    phases, began = Phases(), time.perf_counter()
    export = export_spec(detailed=True)
    columns = (Column("partition_date", "DATE"), *(c for c in export.columns if c.name != "_PARTITIONTIME"))
    spec = dataclasses.replace(export, name="bench_copy", columns=columns, partition_field=None)
    dataset = ctx.settings.org_dataset(ctx.org_slug)
    stage = warehouse.table_id(dataset, f"_stage_copy_{uuid.uuid4().hex[:8]}")
    days = [ctx.start_date + timedelta(days=i) for i in range((ctx.end_date - ctx.start_date).days + 2)]
    days.insert(0, ctx.start_date - timedelta(days=1))  # the Pacific partition before the first UTC day
    writer = StageWriter(warehouse, stage, spec)
    for batch in read_rows(open_source(ctx), days):
        writer.write(batch)
    rows = writer.rows
    warehouse.ensure_table(dataset, spec)
    target = warehouse.table_id(dataset, spec.name)
    warehouse.execute(
        f"BEGIN TRANSACTION; INSERT INTO `{target}` SELECT * FROM `{stage}`; COMMIT TRANSACTION;"
    )
    warehouse.client.delete_table(stage)
    return {"seconds": time.perf_counter() - began, "rows_written": rows, "phases": dict(phases.seconds)}


def part_duckdb(args: dict) -> dict:
    """(b): DuckDB reads the same rows (Parquet) and writes them to a table, then to Parquet: no transform."""
    import duckdb

    connection = duckdb.connect()
    began = time.perf_counter()
    connection.execute("CREATE TABLE copy AS SELECT * FROM read_parquet(?)", [args["parquet"]])
    table_seconds = time.perf_counter() - began
    out = os.path.join(args["folder"], "duckdb-copy.parquet")
    began = time.perf_counter()
    connection.execute(f"COPY (SELECT * FROM read_parquet('{args['parquet']}')) TO '{out}' (FORMAT parquet)")
    rows = connection.execute("SELECT COUNT(*) FROM copy").fetchone()[0]
    return {
        "seconds": table_seconds,
        "rows_written": rows,
        "phases": {"parquet → table": table_seconds, "parquet → parquet": time.perf_counter() - began},
    }


PARTS = {
    "pipeline": part_pipeline,
    "granted": part_granted,
    "rowwise": part_rowwise,
    "stack_copy": part_stack_copy,
    "duckdb": part_duckdb,
}


def _emulator_peak_mb(port: int) -> float | None:
    """Peak resident memory (VmHWM) of the BigQuery emulator serving `port`, read from /proc."""
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = status.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and str(port).encode() in argv and any(b"local-bigquery" in a for a in argv):
            for line in (status.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    return None


def _new_org(settings, table_id: str, granted: bool = False) -> str:
    slug = f"bench_{int(time.time() * 1000) % 10**9}"
    onboarding.create_org(settings, slug, "enterprise", "ACTIVE")
    if granted:  # nothing secret: the pipeline's own account reads the export
        onboarding.set_credential(
            settings, slug, "gcp", "", {"billing_export_table": table_id, "access": "granted"}
        )
        return slug
    onboarding.set_credential(
        settings,
        slug,
        "gcp",
        demo_service_account_key(settings.project, "bench"),
        {"billing_export_table": table_id},
    )
    return slug


def _run_part(name: str, env: dict, args: dict) -> dict:
    """One measurement in its own process, so its peak memory is its own; returns its JSON report."""
    load_before = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, __file__, "--part", name, "--args", json.dumps(args)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"part {name} failed:\n{out.stderr[-4000:]}")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    report["load_avg"] = (round(load_before, 2), round(os.getloadavg()[0], 2))
    return report


def _own_peak_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: it keeps the parent's peak across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _part_main(name: str, args: dict) -> None:
    began = time.perf_counter()
    report = PARTS[name](args)
    report["seconds"] = report.get("seconds", time.perf_counter() - began)
    report["peak_rss_mb"] = _own_peak_mb()
    print(json.dumps(report, default=str))


def logical_bytes(array) -> int:
    """BigQuery's billed size of a column (its data-size rules): 8 bytes per INT64/FLOAT64/TIMESTAMP/DATE value,
    16 per NUMERIC, 2 + UTF-8 length per STRING, 1 per BOOL, a STRUCT its fields, an ARRAY its elements; NULL 0."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if isinstance(array, pa.ChunkedArray):
        return sum(logical_bytes(chunk) for chunk in array.chunks)
    if pa.types.is_struct(kind):
        return sum(logical_bytes(pc.struct_field(array, i)) for i in range(kind.num_fields))
    if pa.types.is_list(kind):
        return logical_bytes(pc.list_flatten(array))
    valid = len(array) - array.null_count
    if pa.types.is_string(kind):
        return 2 * valid + int(pc.sum(pc.binary_length(array)).as_py() or 0)
    if pa.types.is_decimal(kind):
        return 16 * valid
    if pa.types.is_boolean(kind):
        return valid
    return 8 * valid


def _bytes_billed(export, days_per_month: int = 30, rows_per_day: int = 1_000_000) -> None:
    """The bytes each mode's source queries would bill for a month of a 1M-rows-a-day export (BigQuery bills the
    columns a query reads in the partitions it touches; the stand-in's dry runs say 0), scaled from this export's
    bytes per row."""
    import pyarrow.compute as pc

    from shared.providers.gcp.sql import EXPORT_COLUMNS

    rows = export.num_rows
    per_row = {
        "stats (export_time)": logical_bytes(export["export_time"]) / rows,
        "rows (the pipeline's columns)": sum(logical_bytes(export[c]) for c in EXPORT_COLUMNS) / rows,
        "units (usage.unit, usage.pricing_unit)": (
            logical_bytes(pc.struct_field(export["usage"], "unit"))
            + logical_bytes(pc.struct_field(export["usage"], "pricing_unit"))
        )
        / rows,
    }
    month = days_per_month * rows_per_day
    gib = lambda name: per_row[name] * month / 1024**3
    key = gib("stats (export_time)") + gib("rows (the pipeline's columns)")
    granted = key + gib("units (usage.unit, usage.pricing_unit)")
    print("bytes per export row: " + ", ".join(f"{name} {value:.0f}" for name, value in per_row.items()))
    print(
        f"a month of 1M rows a day, reloaded once: key mode {key:.1f} GiB scanned (+ the same rows read out "
        f"through the Storage Read API), granted mode {granted:.1f} GiB scanned (the rows never leave BigQuery; "
        f"its script also reads its temporary tables, like key mode's commit reads its stages)"
    )


def _prepare(stack: LocalStack, folder: Path, days: int, rows_per_day: int) -> tuple[dict, int]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from shared.platform.clients import make_bigquery_client

    settings = stack.settings()
    client = make_bigquery_client(settings)
    # A customer's project, not the service's: a run refuses an export in the service's own project.
    client.create_dataset(f"{DEMO_PROJECT}.bench_export", exists_ok=True)
    table_id = f"{DEMO_PROJECT}.bench_export.{TABLE}"
    began = time.perf_counter()
    export = generate_export(ExportSpec(start=START, days=days, rows_per_day=rows_per_day))
    generated = time.perf_counter() - began
    write_export(client, table_id, export, replace=True)
    print(
        f"export: {export.num_rows:,} rows generated in {generated:.1f} s, written in "
        f"{time.perf_counter() - began - generated:.1f} s"
    )
    _bytes_billed(export)
    parquet = folder / "export.parquet"  # the same rows, for DuckDB
    source = export.add_column(0, "partition_date", pc.cast(export["_PARTITIONTIME"], "date32"))
    pq.write_table(source.drop_columns(["_PARTITIONTIME"]), parquet)
    rows = export.num_rows
    del export, source  # the parts run in child processes: keep this one small
    last = START + timedelta(days=days - 1)
    args = {
        "table_id": table_id,
        "start": START.isoformat(),
        "end": last.isoformat(),
        "parquet": str(parquet),
        "folder": str(folder),
    }
    return args, rows


PART_ORDER = ("pipeline", "granted", "rowwise", "stack_copy", "duckdb")


def _median_run(reports: list[dict]) -> dict:
    """The run with the median wall time (its phases and memory with it), the lower middle for an even count."""
    return sorted(reports, key=lambda report: report["seconds"])[(len(reports) - 1) // 2]


def _print(reports: dict, rows: int) -> None:
    rate = lambda seconds: rows / seconds if seconds else float("nan")
    print(f"\n{'measurement':<58} {'seconds':>8} {'rows/s':>11} {'peak MB':>8}  load avg")
    for key, label in (
        ("pipeline", "key mode: source → vectorised transform → stage → commit"),
        ("granted", "granted mode: one SQL job in the warehouse"),
        ("rowwise", "(a) same pipeline, row-by-row Python transform"),
        ("stack_copy", "(c) local stack bare copy: source → stage → insert"),
        ("duckdb", "(b) DuckDB bare read-and-write (Parquet → table)"),
    ):
        if key not in reports:
            continue
        r = reports[key]
        print(
            f"{label:<58} {r['seconds']:>8.2f} {rate(r['seconds']):>11,.0f} {r['peak_rss_mb']:>8.0f}  "
            f"{r['load_avg'][0]}→{r['load_avg'][1]}"
        )
    if "pipeline" not in reports or "duckdb" not in reports:
        return
    p, g, d = reports["pipeline"], reports.get("granted"), reports["duckdb"]["seconds"]
    if g:
        print(
            f"\ngranted / (b) DuckDB {g['seconds'] / d:.1f}x; key / (b) {p['seconds'] / d:.1f}x; function peak: "
            f"granted {g['peak_rss_mb']:.0f} MB, key {p['peak_rss_mb']:.0f} MB"
        )
    if "rowwise" not in reports:
        return
    a = reports["rowwise"]
    print(
        f"\ntransform only: vectorised {rate(p['phases']['transform']):,.0f} rows/s, row-by-row "
        f"{rate(a['phases']['row loop']):,.0f} rows/s (+ {a['phases']['to/from Python']:.1f} s converting)"
    )
    print(
        f"ratios: pipeline vs (a) end to end {a['seconds'] / p['seconds']:.1f}x; transform vs (a)'s row loop "
        f"{a['phases']['row loop'] / p['phases']['transform']:.1f}x; pipeline / (b) "
        f"{p['seconds'] / reports['duckdb']['seconds']:.1f}x; pipeline / (c) "
        f"{p['seconds'] / reports['stack_copy']['seconds']:.1f}x"
    )
    for key in ("pipeline", "granted", "rowwise", "stack_copy"):
        if key not in reports:
            continue
        phases = ", ".join(f"{k} {v:.1f}" for k, v in reports[key]["phases"].items())
        print(f"  {key} phases (s): {phases}")


def main() -> int:
    """Parse arguments; run one part (child) or the whole benchmark (parent)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--rows-per-day", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, help="keep the stack's data and logs here")
    parser.add_argument("--read-chunk-rows", type=int, help="rows per source query (default: the pipeline's)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each part; figures are the medians")
    parser.add_argument(
        "--parts",
        default=",".join(PART_ORDER),
        help=f"comma-separated, of {', '.join(PART_ORDER)} (default all)",
    )
    parser.add_argument("--part", choices=sorted(PARTS), help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.part:
        _part_main(options.part, json.loads(options.args))
        return 0
    folder = options.data_dir or Path(tempfile.mkdtemp(prefix="dps-bench-gcp-"))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; data in {folder}")
    with LocalStack(
        folder, ports=LocalStack.free_ports(), start_functions=False, duckdb_home=DUCKDB_HOME, echo=print
    ) as stack:
        args, rows = _prepare(stack, folder, options.days, options.rows_per_day)
        chosen = [part for part in PART_ORDER if part in options.parts.split(",")]
        settings, runs = stack.settings(), {part: [] for part in chosen}
        # Rounds interleave the parts, so a change of machine load touches every part alike.
        for round_number in range(1, options.rounds + 1):
            for part in chosen:
                org = _new_org(settings, args["table_id"], granted=part == "granted")
                report = _run_part(part, stack.env(), {**args, "org": org})
                runs[part].append(report)
                print(
                    f"  round {round_number} {part}: {report['seconds']:.1f} s, "
                    f"peak {report['peak_rss_mb']:.0f} MB"
                )
        _print({part: _median_run(reports) for part, reports in runs.items()}, rows)
        print(
            "all runs (s): "
            + "; ".join(
                f"{part} " + ", ".join(f"{r['seconds']:.1f}" for r in reports)
                for part, reports in runs.items()
            )
        )
        print(
            f"BigQuery emulator peak RSS: {_emulator_peak_mb(stack.ports['bigquery']) or 0:.0f} MB; "
            f"finished {datetime.now(UTC):%H:%M:%S} UTC"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
