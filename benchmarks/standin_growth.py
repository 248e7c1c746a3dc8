"""The BigQuery stand-in as it grows: is one emulator for a whole test session slower than a fresh one per module?

Starts two stacks (no functions: the worker runs in this process). Each round feeds the "grown" stack --ballast
units of work unmeasured, then probes both stacks, alternating which goes first: one unit, and the median of 10
`SELECT 1` statements (the fixed cost every statement pays). A unit is what a typical stack-tier test does: onboard
an org with an OpenAI credential, reserve a run of one day as the API does, and run it in process to COMPLETED
(six steps against the sandbox). At the end the grown stack's BigQuery is restarted on the same data and probed
(slowness kept on disk, or in the process?), then reset to an empty warehouse (`LocalStack.reset_bigquery`, what
the test session does before each module) and probed again.

Prints one line per round (units absorbed, probe seconds on each stack, the ratio, SELECT 1 milliseconds on each)
and the load average; asserts nothing. Timings depend on the machine and on what else runs on it: compare the
columns of one run, not figures of different runs.

    .venv/bin/python benchmarks/standin_growth.py                    # 8 rounds x 10 units (~10 min on 2 cores)
    .venv/bin/python benchmarks/standin_growth.py --rounds 3 --ballast 4   # quick
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `.venv/bin/python benchmarks/standin_growth.py`

DUCKDB_HOME = Path(tempfile.gettempdir()) / "dps-benchmark-duckdb-home"  # shared with the other benchmarks
DAY = date(2025, 11, 3)


class Target:
    """One started stack and the in-process clients a unit of work needs."""

    def __init__(self, name: str, root: Path):
        from devstack.stack import LocalStack
        from shared.platform.clients import make_bigquery_client, make_kms_client
        from shared.warehouse.adapter import Warehouse
        from shared.worker.entry import WorkerDeps

        self.name = name
        self.stack = LocalStack(
            root / name,
            ports=LocalStack.free_ports(),
            start_functions=False,
            duckdb_home=DUCKDB_HOME,
            echo=None,
        ).start()
        self.settings = self.stack.settings()
        self.warehouse = Warehouse(make_bigquery_client(self.settings), self.settings.project)
        self.deps = WorkerDeps(self.settings, self.warehouse, make_kms_client(self.settings))
        self.units = 0

    def select_one_ms(self, times: int = 10) -> float:
        """Median milliseconds of `SELECT 1` through the BigQuery client (job, then its results)."""
        samples = []
        for _ in range(times):
            began = time.perf_counter()
            self.warehouse.query("SELECT 1 AS one")
            samples.append((time.perf_counter() - began) * 1000)
        return statistics.median(samples)


def unit_of_work(target: Target, index: int) -> float:
    """Onboard an org, reserve a one-day run as the API does, run it to COMPLETED; the seconds it took."""
    import base64
    import json

    from shared.providers.openai import PROVIDER
    from shared.runs.admission import reserve_run
    from shared.runs.run_log import RunLog
    from shared.tenancy import onboarding
    from shared.tenancy.subscriptions import load_plans
    from shared.worker.entry import handle_run_event

    settings, warehouse = target.settings, target.warehouse
    began = time.perf_counter()
    slug = f"g_{uuid.uuid4().hex[:10]}"
    onboarding.create_org(settings, slug, "professional", "ACTIVE")
    onboarding.set_credential(settings, slug, "openai", "sk-admin-growth-benchmark", {})
    day = DAY - timedelta(days=index % 300)
    request = RunLog(warehouse, settings).new_request(slug, "openai/cost/usage_cost", "openai", day, day)
    limits = load_plans(settings.config_dir)["professional"]
    assert reserve_run(warehouse, settings, request, limits).decision == "ACCEPTED"
    data = base64.b64encode(json.dumps(request.to_message()).encode()).decode()
    event = {
        "message": {"data": data, "messageId": f"m-{index}"},
        "subscription": "projects/p/subscriptions/s",
    }
    with contextlib.redirect_stdout(io.StringIO()):  # the worker's log lines
        assert handle_run_event(event, PROVIDER, target.deps) == "completed"
    target.units += 1
    return time.perf_counter() - began


def probe(target: Target, index: int) -> tuple[float, float]:
    """One unit's seconds and SELECT 1's median milliseconds."""
    return unit_of_work(target, index), target.select_one_ms()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument(
        "--ballast", type=int, default=10, help="unmeasured units fed to the grown stack per round"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep the stacks' data and logs here (default: temporary)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dps-growth-") as scratch:
        root = args.data_dir or Path(scratch)
        grown, fresh = Target("grown", root), Target("fresh", root)
        try:
            print(f"load average at start: {os.getloadavg()[0]:.1f}")
            print(
                f"{'round':>5} {'units':>6} {'grown s':>8} {'fresh s':>8} {'ratio':>6} "
                f"{'grown ms':>9} {'fresh ms':>9} {'load':>5}"
            )
            for i in (0, 1):  # warm both (first-use costs: imports, client set-up, extension loading)
                unit_of_work(grown, i), unit_of_work(fresh, i)
            count = 2
            for round_ in range(1, args.rounds + 1):
                for _ in range(args.ballast):
                    unit_of_work(grown, count)
                    count += 1
                order = (grown, fresh) if round_ % 2 else (fresh, grown)
                probed = {t.name: probe(t, count + k) for k, t in enumerate(order)}
                count += 2
                (g_s, g_ms), (f_s, f_ms) = probed["grown"], probed["fresh"]
                print(
                    f"{round_:>5} {grown.units:>6} {g_s:>8.2f} {f_s:>8.2f} {g_s / f_s:>6.2f} "
                    f"{g_ms:>9.0f} {f_ms:>9.0f} {os.getloadavg()[0]:>5.1f}",
                    flush=True,
                )
            grown.stack.stop_bigquery()
            grown.stack.start_bigquery()
            seconds, ms = probe(grown, count)
            print(
                f"grown, its BigQuery restarted on the same data: a unit {seconds:.2f} s, SELECT 1 {ms:.0f} ms"
            )
            reset = grown.stack.reset_bigquery()
            seconds, ms = probe(grown, count + 1)
            print(
                f"grown, reset to an empty warehouse in {reset:.1f} s: a unit {seconds:.2f} s, SELECT 1 {ms:.0f} ms"
            )
            print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        finally:
            grown.stack.stop()
            fresh.stack.stop()


if __name__ == "__main__":
    main()
