"""The BigQuery stand-in with many orgs: one OpenAI run (reservation + worker, in process) through the project's
launcher (devstack/standins/bigquery_serve.py) against plain `local-bigquery serve`, same machine, same run.

Onboards --orgs enterprise orgs (each with its dataset of tables), then times --runs runs one after another and a
`SELECT 1`. Prints medians for both; asserts nothing."""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `.venv/bin/python benchmarks/standin_lookups.py`

DUCKDB_HOME = Path(tempfile.gettempdir()) / "dps-benchmark-duckdb-home"  # shared with the other benchmarks


def _use_plain_local_bigquery() -> None:
    """Launch the package's own `local-bigquery` executable instead of the project's launcher."""
    import devstack.standins.bigquery as emulator

    start = emulator.start_process

    def plain(name, argv, log, env, cwd=None):
        launcher_args = ["-m", "devstack.standins.bigquery_serve"]
        assert argv[1:3] == launcher_args, argv
        return start(name, [str(Path(sys.executable).parent / "local-bigquery"), *argv[3:]], log, env, cwd)

    emulator.start_process = plain


def measure(mode: str, orgs: int, runs: int) -> dict:
    """Start a stack (functions not needed: the worker runs in process), onboard, time; the figures."""
    if mode == "plain":
        _use_plain_local_bigquery()
    from devstack.stack import LocalStack
    from shared.providers.openai import PROVIDER as OPENAI
    from shared.runs.admission import reserve_run
    from shared.runs.run_log import RunLog
    from shared.tenancy import onboarding
    from shared.tenancy.subscriptions import load_plans
    from shared.warehouse.datasets import ensure_org_dataset
    from shared.worker.entry import default_deps, handle_run_event

    with tempfile.TemporaryDirectory(prefix=f"dps-standin-{mode}-") as data:
        ports = LocalStack.free_ports()
        stack = LocalStack(Path(data), ports=ports, duckdb_home=DUCKDB_HOME, start_functions=False, echo=None)
        with stack:
            os.environ.update(stack.env())
            settings, deps = stack.settings(), default_deps()
            began = time.perf_counter()
            for i in range(orgs):
                onboarding.create_org(settings, f"org_{i:02d}", "enterprise", "ACTIVE")
                onboarding.set_credential(
                    settings, f"org_{i:02d}", "openai", stack.secrets["sandbox_openai_key"], {}
                )
                ensure_org_dataset(settings, deps.warehouse, f"org_{i:02d}")
            onboarding = time.perf_counter() - began
            run_log, day = RunLog(deps.warehouse, settings), datetime.now(UTC).date() - timedelta(days=1)
            limits, run_seconds = load_plans(settings.config_dir)["enterprise"], []
            for i in range(runs):
                request = run_log.new_request(
                    f"org_{i % orgs:02d}", "openai/cost/usage_cost", "openai", day, day
                )
                began = time.perf_counter()
                reserve_run(deps.warehouse, settings, request, limits)
                message = base64.b64encode(json.dumps(request.to_message()).encode()).decode()
                outcome = handle_run_event({"message": {"data": message, "messageId": str(i)}}, OPENAI, deps)
                assert outcome == "completed", outcome
                run_seconds.append(time.perf_counter() - began)
            began = time.perf_counter()
            for _ in range(10):
                deps.warehouse.query("SELECT 1 AS x")
            select_one = (time.perf_counter() - began) / 10
    return {"onboarding": onboarding, "run": statistics.median(run_seconds), "select_one": select_one}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--mode", choices=["launcher", "plain"], help=argparse.SUPPRESS)  # one measurement
    args = parser.parse_args()
    if args.mode:  # a child: measure in a fresh process (the plain mode patches the launcher away)
        print(json.dumps(measure(args.mode, args.orgs, args.runs)))
        return
    figures = {}
    for mode in ("launcher", "plain"):
        argv = [sys.executable, __file__, "--mode", mode, "--orgs", str(args.orgs), "--runs", str(args.runs)]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        figures[mode] = json.loads(out.strip().splitlines()[-1])
    print(f"{args.orgs} orgs, {args.runs} runs each, load average {os.getloadavg()[0]:.1f}")
    for mode, f in figures.items():
        print(
            f"  {mode:<9} onboarding {f['onboarding']:6.1f} s   run (median) {f['run']:6.2f} s   "
            f"SELECT 1 {f['select_one'] * 1000:6.0f} ms"
        )
    print(f"  plain / launcher, per run: {figures['plain']['run'] / figures['launcher']['run']:.1f}x")


if __name__ == "__main__":
    main()
