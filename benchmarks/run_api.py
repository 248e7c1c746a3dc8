"""Benchmark: accepted run requests per second, latency and BigQuery round trips of the `api` function, on
loopback, next to a hello-world function served the same way. Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `.venv/bin/python benchmarks/run_api.py`

from benchmarks.attack import KeyFlood, add_attack_arguments
from devstack import processes
from devstack.processes import LOOPBACK, ManagedProcess
from devstack.stack import FUNCTIONS_DIR, LocalStack
from shared.tenancy import onboarding

HELLO_SOURCE = Path(__file__).resolve().parent / "hello" / "main.py"
PIPELINE = "openai/cost/usage_cost"
UNDER_FLOOD = "flooded"  # the run API burst with a flood of invalid keys beside it
TARGETS = ("hello", "run API", UNDER_FLOOD)
# local-bigquery's access log (uvicorn): one line per HTTP call, e.g. "POST /bigquery/v2/projects/p/queries?".
BQ_JOB_CALL = re.compile(r'"POST /bigquery/v2/projects/[^/]+/(?:queries|jobs)[?" ]')
BQ_ANY_CALL = re.compile(r'"[A-Z]+ /bigquery/')
# DuckDB's extensions (~130 MB) are copied once into this cache, not into every temporary stack.
DUCKDB_HOME = Path(tempfile.gettempdir()) / "dps-benchmark-duckdb-home"


@dataclass
class Round:
    """One measured burst against one target."""

    target: str
    seconds: float
    latencies: list[float]
    statuses: Counter
    bigquery_jobs: int | None = None
    bigquery_calls: int | None = None

    @property
    def accepted(self) -> int:
        """Requests answered 202 (the hello function answers 202 too, so both count the same thing)."""
        return self.statuses.get(202, 0)

    @property
    def per_second(self) -> float:
        """Accepted requests per wall-clock second of the burst."""
        return self.accepted / self.seconds

    def percentile_ms(self, q: int) -> float:
        """The q-th percentile latency in milliseconds."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


def serve_function(target: str, source: Path, port: int, env: dict[str, str], log: Path) -> ManagedProcess:
    """Serve an HTTP function with the functions-framework command line LocalStack uses; wait for it."""
    argv = [
        str(Path(sys.executable).parent / "functions-framework"),
        "--target",
        target,
        "--source",
        str(source),
        "--signature-type",
        "http",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
    ]
    process = processes.start_process(f"function {target}", argv, log, env, REPO)
    probe = f"http://{LOOPBACK}:{port}/health"
    processes.wait_until(
        process, lambda: processes.http_status(probe) is not None, f"GET {probe} answered", 60
    )
    return process


def burst(
    target: str, request: Callable[[int], tuple[str, dict, dict]], count: int, concurrency: int
) -> Round:
    """POST `count` requests, `concurrency` in flight, one keep-alive client per sender thread; time each."""
    latencies, statuses, clients, local = [0.0] * count, [0] * count, [], threading.local()

    def send(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
            clients.append(local.client)
        url, body, headers = request(i)
        began = time.perf_counter()
        statuses[i] = local.client.post(url, json=body, headers=headers).status_code
        latencies[i] = time.perf_counter() - began

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, range(count)))
    seconds = time.perf_counter() - began
    for client in clients:
        client.close()
    return Round(target, seconds, latencies, Counter(statuses))


def onboard(settings, label: str) -> tuple[str, str]:
    """A fresh enterprise org (no run quotas; 1200 requests a minute), with an OpenAI credential."""
    slug = f"bench_{label}_{uuid.uuid4().hex[:6]}"
    key = onboarding.create_org(settings, slug, "enterprise", "ACTIVE")["api_key"]
    onboarding.set_credential(settings, slug, "openai", "sk-admin-benchmark", {})
    return slug, key


def run_requests(api_url: str, slug: str, key: str) -> Callable[[int], tuple[str, dict, dict]]:
    """Request i asks for the day i days before yesterday: distinct, so none duplicates a PENDING run."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    url = f"{api_url}/api/v1/pipelines/run/{slug}/{PIPELINE}"
    headers = {"X-API-Key": key}
    return lambda i: (url, {"date": (yesterday - timedelta(days=i)).isoformat()}, headers)


def bigquery_calls_since(log: Path, offset: int) -> tuple[int, int]:
    """(job-creating calls, all calls) logged by the BigQuery emulator after byte `offset` of its log."""
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    return sum(bool(BQ_JOB_CALL.search(x)) for x in lines), sum(bool(BQ_ANY_CALL.search(x)) for x in lines)


def measure_api(
    stack: LocalStack,
    api_url: str,
    slug: str,
    key: str,
    count: int,
    concurrency: int,
    flood: KeyFlood | None = None,
) -> Round:
    """One burst of run requests, with the BigQuery calls the emulator logged meanwhile; with `flood`, that flood
    of invalid keys runs beside the burst (started first, so the burst meets it in full)."""
    log = stack.data_dir / "logs" / "bigquery.log"
    offset = log.stat().st_size
    if flood:
        flood.start()
    measured = burst(
        UNDER_FLOOD if flood else "run API", run_requests(api_url, slug, key), count, concurrency
    )
    if flood:
        flood.join()
        print(f"  flood beside the burst: {flood.summary()}", flush=True)
    time.sleep(0.5)  # the emulator writes its access-log line after answering
    measured.bigquery_jobs, measured.bigquery_calls = bigquery_calls_since(log, offset)
    return measured


def report(rounds: list[Round], count: int, concurrency: int) -> None:
    """Print every round, the medians and the ratios."""
    print(f"\n{count} POSTs per burst, {concurrency} in flight, loopback, {os.cpu_count()} CPUs")
    print(
        f"{'round':>5}  {'target':<8} {'accepted':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
        "  other statuses"
    )
    per_round = len({r.target for r in rounds})
    for number, measured in enumerate(rounds):
        other = {code: n for code, n in measured.statuses.items() if code != 202} or "-"
        print(
            f"{number // per_round + 1:>5}  {measured.target:<8} {measured.accepted:>8} {measured.per_second:>8.1f} "
            f"{measured.percentile_ms(50):>8.1f} {measured.percentile_ms(99):>8.1f}  {other}"
        )
    medians = {}
    for target in TARGETS:
        mine = [r for r in rounds if r.target == target]
        if not mine:
            continue
        medians[target] = [
            statistics.median(r.per_second for r in mine),
            statistics.median(r.percentile_ms(50) for r in mine),
            statistics.median(r.percentile_ms(99) for r in mine),
        ]
        print(
            f"median {target:<8} {'':>8} {medians[target][0]:>8.1f} {medians[target][1]:>8.1f} "
            f"{medians[target][2]:>8.1f}"
        )
    hello, api = medians["hello"], medians["run API"]
    print(
        f"hello / run API: throughput x{hello[0] / api[0]:.1f}, p50 latency x{api[1] / hello[1]:.1f}, "
        f"p99 latency x{api[2] / hello[2]:.1f}"
    )
    if UNDER_FLOOD in medians:
        flooded = medians[UNDER_FLOOD]
        print(
            f"run API beside the flood / without it (same rounds): p50 latency x{flooded[1] / api[1]:.2f}, "
            f"p99 latency x{flooded[2] / api[2]:.2f}, throughput x{flooded[0] / api[0]:.2f}"
        )
    api_rounds = [r for r in rounds if r.target == "run API"]
    accepted = sum(r.accepted for r in api_rounds)
    jobs, calls = sum(r.bigquery_jobs for r in api_rounds), sum(r.bigquery_calls for r in api_rounds)
    print(
        f"BigQuery per accepted run request (no provider function running, so only the api calls it): "
        f"{jobs / accepted:.2f} job-creating calls (POST .../queries or .../jobs), "
        f"{calls / accepted:.2f} HTTP calls in all"
    )


def measure_rounds(stack: LocalStack, api_url: str, hello_url: str, args: argparse.Namespace) -> list[Round]:
    """Warm both targets up, then alternate bursts against them, round after round."""
    settings = stack.settings()
    hello = lambda i: (f"{hello_url}/api/v1/pipelines/run/x/{PIPELINE}", {"date": "2025-11-01"}, {})
    slug, key = onboard(settings, "warmup")
    burst("hello", hello, 20, args.concurrency)  # imports, connection pools and the key cache warm up
    burst("run API", run_requests(api_url, slug, key), 20, args.concurrency)
    rounds: list[Round] = []
    for number in range(args.rounds):
        slug, key = onboard(settings, f"r{number}")  # a fresh org per round: all its dates are new
        measures = [
            partial(burst, "hello", hello, args.requests, args.concurrency),
            partial(measure_api, stack, api_url, slug, key, args.requests, args.concurrency),
        ]
        if args.attack:
            flooded_slug, flooded_key = onboard(settings, f"f{number}")  # its own fresh org, as for the burst
            url = f"{api_url}/api/v1/pipelines/run/{flooded_slug}/{PIPELINE}"
            flood = KeyFlood(url, args.attack, args.attack_concurrency, shape=args.attack_keys)
            measures.append(
                partial(
                    measure_api,
                    stack,
                    api_url,
                    flooded_slug,
                    flooded_key,
                    args.requests,
                    args.concurrency,
                    flood,
                )
            )
        if number % 2:  # alternate the order, so a slow drift of the machine does not favour one target
            measures.reverse()
        rounds += sorted((measure() for measure in measures), key=lambda r: TARGETS.index(r.target))
        print(f"round {number + 1}/{args.rounds} done", flush=True)
    return rounds


def main() -> None:
    """Start a private stack and both functions, measure, print the figures, stop everything."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="POSTs per burst (default 200)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="bursts per target; medians are reported (default 5)"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep the stack's data and logs here (default: a temp dir)"
    )
    add_attack_arguments(
        parser,
        "also measure each round's run API burst beside this many requests "
        "with invalid keys (issue 18 uses 200); the ratio to the burst without them is printed",
    )
    args = parser.parse_args()
    if not 0 < args.requests <= 1000:  # distinct days back from yesterday must stay within three years
        parser.error("--requests must be between 1 and 1000")

    with tempfile.TemporaryDirectory(prefix="dps-benchmark-") as temporary:
        # The stack starts no function: no provider worker claims runs or touches BigQuery, so every BigQuery
        # call in a measured window is the api's.
        stack = LocalStack(
            Path(args.data_dir or temporary),
            ports=LocalStack.free_ports(),
            start_functions=False,
            duckdb_home=DUCKDB_HOME,
        )
        served: list[ManagedProcess] = []
        try:
            stack.start()
            os.environ.update(stack.env())  # this process's admin calls reach the same stand-ins
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            logs, hello_port = stack.data_dir / "logs", processes.free_port()
            api = serve_function(
                "api", FUNCTIONS_DIR / "api" / "main.py", stack.ports["api"], env, logs / "api.log"
            )
            served.append(api)
            served.append(serve_function("hello", HELLO_SOURCE, hello_port, env, logs / "hello.log"))
            # A hello function on the openai port acknowledges Pub/Sub's pushes (it never touches BigQuery);
            # else the emulator spends the measured windows retrying deliveries to an absent worker.
            sink_port = stack.ports[PIPELINE.split("/")[0]]
            served.append(serve_function("hello", HELLO_SOURCE, sink_port, env, logs / "push-sink.log"))
            rounds = measure_rounds(stack, stack.api_url, f"http://{LOOPBACK}:{hello_port}", args)
            report(rounds, args.requests, args.concurrency)
        finally:
            for process in served:
                process.stop()
            stack.stop()


if __name__ == "__main__":
    main()
