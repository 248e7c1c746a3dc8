"""What a cost report (`dps report`) costs besides its queries, on synthetic rows: each phase in a fresh interpreter,
medians over --runs, against the baseline of bundling the Vega JavaScript with vl-convert (what every report paid
before the bundle was kept in the user's cache directory).

    .venv/bin/python benchmarks/report.py --runs 5 [--days 30 --providers 6 --services 20]

Phases: `bundle (vl-convert, baseline)`: vl_convert.javascript_bundle in a fresh process; `bundle (cached)`: the same
script read from the cache file; `page`: shaping the rows and building every chart's spec and the page (a stub in
place of the bundle, Altair's import included); `pngs`: every chart's PNG. It asserts nothing: timings depend on the
machine and on what else runs on it (its load is printed alongside).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = r"""
import json, os, sys, time
from datetime import date, timedelta
from decimal import Decimal
phase, days, providers, services = sys.argv[1], *map(int, sys.argv[2:5])
began = time.perf_counter()
if phase.startswith("bundle"):
    from shared.reports.page import vega_bundle
    vega_bundle()
else:
    from shared.reports.build import build_report
    from shared.reports.charts import png
    from shared.reports.query import ReportData
    from shared.reports.shaping import Month
    end = date(2026, 11, 29)
    costs = [
        {"day": end - timedelta(days=d), "provider": f"P{p}", "service": f"S{p}-{s}",
         "model": f"m{s}" if p == 0 else None, "currency": "EUR" if p == 1 else "USD",
         "billed": Decimal(f"{d + s}.123456789"), "effective": Decimal(f"{d + p}.987654321")}
        for d in range(days) for p in range(providers) for s in range(services)
    ]
    data = ReportData("bench", end - timedelta(days=days - 1), end, costs, None, Month.of(end), [], [], [], [], False)
    report = build_report(data, "bench", script="/* stub */")
    if phase == "pngs":
        began = time.perf_counter()
        for chart in report.charts:
            png(chart)
print(json.dumps({"seconds": time.perf_counter() - began}))
"""


def run_phase(phase: str, cache: Path, args) -> float:
    """One fresh interpreter timing `phase`; its seconds."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", PROBE, phase, str(args.days), str(args.providers), str(args.services)]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out.splitlines()[-1])["seconds"]


def main() -> None:
    """Print each phase's median over --runs, and the cached bundle against the baseline."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--providers", type=int, default=6)
    parser.add_argument("--services", type=int, default=20)
    args = parser.parse_args()
    print(
        f"load average {os.getloadavg()}, {args.days} days x {args.providers} providers x {args.services} services"
    )
    medians = {}
    with tempfile.TemporaryDirectory() as scratch:
        for phase in ("bundle (vl-convert, baseline)", "bundle (cached)", "page", "pngs"):
            times = []
            for run in range(args.runs):
                cache = Path(scratch) / (f"cold-{run}" if "baseline" in phase else "warm")
                if phase == "bundle (cached)" and not (cache / "dps").exists():
                    run_phase(phase, cache, args)  # fill the cache once, untimed
                times.append(run_phase(phase, cache, args))
            medians[phase] = statistics.median(times)
            print(
                f"{phase:<32} median {medians[phase]:.3f} s over {args.runs} runs: {[round(t, 3) for t in times]}"
            )
    baseline, cached = medians["bundle (vl-convert, baseline)"], medians["bundle (cached)"]
    print(f"cached bundle / baseline: {cached / baseline:.3f} ({baseline - cached:.2f} s less per report)")


if __name__ == "__main__":
    main()
