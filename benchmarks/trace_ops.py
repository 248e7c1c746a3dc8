"""Operations profile: the client calls of one accepted run request and one run of each nightly pipeline, counted
on a local stack, written as the JSON benchmarks/scale_model.py reads (its docstring fixes the schema).

    .venv/bin/python benchmarks/trace_ops.py                          # writes .local/ops_profile.json
    .venv/bin/python benchmarks/trace_ops.py --date 2026-11-28 --out /tmp/profile.json --no-warmup

It starts a local stack (no functions, free ports), onboards one org per provider as the demo does (the sandbox
keys, the synthetic GCP export) on the demo's plan, and for each pipeline runs one day in two phases: "request",
the api function in process (functions-framework's test client on functions/api/main.py) answering POST
/api/v1/pipelines/run/... with 202; "run", the message the api published (pulled from the provider's topic
through a temporary pull subscription) delivered to shared.worker.entry.handle_run_event until it settles.
Each traced day follows one untraced warm-up run of the day before (a nightly run finds the org's tables, views
and load state in place; --no-warmup traces a first run), and its request carries a key never looked up before
(no key cache: the lookup is counted).

Counts come only from the official clients' methods, wrapped at class level while it runs: Firestore (GAPIC
FirestoreClient), BigQuery (Client), the Storage Write API (BigQueryWriteClient: CreateWriteStream, AppendRows
connections, requests and request bytes, Finalize, BatchCommit), Pub/Sub (PublisherClient.publish), Cloud Tasks
(create_task), plus KMS and the Storage Read API for the table only. A call made inside another wrapped call of the same thread is not
counted twice. The BigQuery stand-in's own job list is read after each phase as a cross-check.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `.venv/bin/python benchmarks/trace_ops.py`

from benchmarks.scale_model import OPS, parse_profile

PIPELINES = ("openai/cost/usage_cost", "anthropic/cost/usage_cost", "gcp/cost/billing")
PLAN = "professional"  # the demo org's plan: runs take a concurrency slot in the org's quota document
# DuckDB's extensions, installed once per machine: the directory the tests use.
DUCKDB_HOME = Path(tempfile.gettempdir()) / "dps-duckdb-home"
DEFAULT_OUT = REPO / ".local" / "ops_profile.json"
MAX_DELIVERIES = 5  # the subscription's dead-letter limit
PULL_SECONDS = 30.0

QUERY, ORG_DML, DML_CENTRAL = "bigquery.query", "bigquery.org_dml", "bigquery.dml_central"
JOB_OPS = (QUERY, ORG_DML, DML_CENTRAL, "bigquery.load_job")
# Calls counted beside the profile's operations (the model holds no limit for them): printed, not written.
EXTRAS = (
    "firestore.commit",
    "firestore.rollback",
    "firestore.query",
    "bigquery.metadata",
    "bigquery.source_client_job",
    "bigquery.storage_read_session",
    "kms.decrypt",
    "kms.encrypt",
)
BIGQUERY_METADATA = (
    "create_dataset",
    "get_dataset",
    "delete_dataset",
    "create_table",
    "get_table",
    "update_table",
    "delete_table",
    "list_tables",
)

# --- pure helpers: what a SQL text does, which document a write names -------------------------------------------

_LEXEMES = re.compile(r"`[^`]*`|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|--[^\n]*|#[^\n]*|/\*.*?\*/", re.DOTALL)
_TABLE = r"((?:`[^`]+`|[\w-]+)(?:\.(?:`[^`]+`|[\w-]+))*)"
_DML = re.compile(
    r"(?:INSERT(?:\s+INTO)?|DELETE(?:\s+FROM)?|UPDATE|MERGE(?:\s+INTO)?|TRUNCATE\s+TABLE)\s+" + _TABLE,
    re.IGNORECASE,
)
_BEGIN_TRANSACTION = re.compile(r"\bBEGIN\s+TRANSACTION\b", re.IGNORECASE)
_ORG_DOCUMENT = re.compile(r"/documents/orgs/[^/]+$")


def code_only(sql: str) -> str:
    """`sql` without comments and with every string literal emptied (quoted identifiers kept)."""

    def keep(match: re.Match) -> str:
        text = match.group(0)
        return text if text[0] == "`" else "''" if text[0] in "'\"" else " "

    return _LEXEMES.sub(keep, sql)


def dml_targets(sql: str) -> list[str]:
    """The tables the statements of `sql` mutate (INSERT, DELETE, UPDATE, MERGE, TRUNCATE), backticks removed."""
    statements = [statement.strip() for statement in code_only(sql).split(";")]
    return [match.group(1).replace("`", "") for s in statements if (match := _DML.match(s))]


def classify_sql(sql: str, central_dataset: str) -> str:
    """The profile operation of one query job: a read query (DDL included), DML on the central dataset, or DML
    on an org's dataset; a script that opens a transaction is DML even when no target is recognised."""
    targets = dml_targets(sql)
    if not targets and not _BEGIN_TRANSACTION.search(code_only(sql)):
        return QUERY
    if any(table.split(".")[-2:-1] == [central_dataset] for table in targets):
        return DML_CENTRAL
    return ORG_DML


def is_org_document(name: str) -> bool:
    """True for the name of an org's quota document, `.../documents/orgs/<org>` (not a document under it)."""
    return bool(_ORG_DOCUMENT.search(name))


def _raw(message):
    """The protobuf message under a proto-plus one (a raw protobuf message as it is)."""
    pb = getattr(type(message), "pb", None)
    return pb(message) if pb is not None else message


def written_document(write) -> str:
    """The document a Firestore Write changes (an update, a delete or a transform)."""
    raw = _raw(write)
    kind = raw.WhichOneof("operation")
    if kind == "update":
        return raw.update.name
    if kind == "transform":
        return raw.transform.document
    return getattr(raw, kind) if kind else ""


def _request_field(args: tuple, kwargs: dict, name: str):
    """A field of a GAPIC call's request (a dict, a request message, or flattened keyword arguments)."""
    request = kwargs.get("request", args[0] if args else None)
    if request is None:
        return kwargs.get(name)
    return request.get(name) if isinstance(request, dict) else getattr(request, name)


# --- the tracer ---------------------------------------------------------------------------------------------------


class Tracer:
    """Counts wrapped client calls into the open phase's Counter (no phase open: nothing is counted)."""

    def __init__(self, central_dataset: str):
        self.central_dataset = central_dataset
        # The ids of the functions' own BigQuery clients: another client's jobs are a source's (the GCP export).
        self.own_clients: set[int] = set()
        self.counts: Counter | None = None
        self._lock = threading.Lock()
        self._depth = threading.local()

    @contextmanager
    def phase(self, counting: bool = True) -> Iterator[Counter]:
        """Count into a fresh Counter while the block runs (into none when not `counting`)."""
        counts: Counter = Counter()
        self.counts = counts if counting else None
        try:
            yield counts
        finally:
            self.counts = None

    def add(self, counts: Counter | None, op: str, n: int = 1) -> None:
        """Add `n` to `op` in `counts` (None: a call outside any counted phase)."""
        if counts is not None:
            with self._lock:
                counts[op] += n

    def wrap(self, original: Callable, count: Callable, results: Callable | None = None) -> Callable:
        """`original` (an unbound client method) counting each outermost call: `count(counts, client, args,
        kwargs)` before it runs (a call that fails was still made), `results(counts, result)` on what it gives."""
        tracer = self

        @functools.wraps(original)
        def wrapper(client, *args, **kwargs):
            depth = getattr(tracer._depth, "value", 0)
            counts = tracer.counts if depth == 0 else None
            if counts is not None:
                with tracer._lock:
                    count(counts, client, args, kwargs)
            tracer._depth.value = depth + 1
            try:
                result = original(client, *args, **kwargs)
            finally:
                tracer._depth.value = depth
            return results(counts, result) if results and counts is not None else result

        return wrapper

    def counted(self, function: Callable, op: str) -> Callable:
        """`function` (a function's entry point) adding one `op` per invocation."""

        @functools.wraps(function)
        def invoke(*args, **kwargs):
            self.add(self.counts, op)
            return function(*args, **kwargs)

        return invoke


def _inc(*ops: str) -> Callable:
    """A count that adds one of each of `ops` per call."""

    def count(counts, client, args, kwargs):
        for op in ops:
            counts[op] += 1

    return count


def _count_commit(counts, client, args, kwargs):
    names = [written_document(write) for write in _request_field(args, kwargs, "writes") or ()]
    counts["firestore.commit"] += 1
    counts["firestore.write"] += len(names)
    counts["firestore.org_document_write"] += sum(map(is_org_document, names))


def _count_batch_get(counts, client, args, kwargs):
    counts["firestore.read"] += len(_request_field(args, kwargs, "documents") or ())


def _count_stream(counts, client, args, kwargs):
    rows = args[1] if len(args) > 1 else kwargs.get("json_rows", ())
    counts["bigquery.streaming_requests"] += 1
    counts["bigquery.streaming_rows"] += len(rows)


def install(tracer: Tracer, exits: ExitStack) -> None:
    """Wrap the clients' methods at class level until `exits` closes."""
    from google.cloud import bigquery, kms_v1, pubsub_v1, tasks_v2
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient, BigQueryWriteClient
    from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

    def count_query(counts, client, args, kwargs):
        counts[classify_sql(args[0] if args else kwargs.get("query", ""), tracer.central_dataset)] += 1
        if id(client) not in tracer.own_clients:
            counts["bigquery.source_client_job"] += 1

    def query_reads(counts, responses):  # a query is billed per document returned, at least one
        documents = 0
        try:
            for response in responses:
                documents += _raw(response).HasField("document")
                yield response
        finally:
            tracer.add(counts, "firestore.read", max(documents, 1))

    firestore = FirestoreClient
    patches = [
        (firestore, "begin_transaction", _inc("firestore.transaction"), None),
        (firestore, "commit", _count_commit, None),
        (firestore, "rollback", _inc("firestore.rollback"), None),
        (firestore, "batch_get_documents", _count_batch_get, None),
        (firestore, "get_document", _inc("firestore.read"), None),
        (firestore, "run_query", _inc("firestore.query"), query_reads),
        (firestore, "run_aggregation_query", _inc("firestore.query", "firestore.read"), None),
        (bigquery.Client, "query_and_wait", count_query, None),
        (bigquery.Client, "query", count_query, None),
        (bigquery.Client, "insert_rows_json", _count_stream, None),
        (bigquery.Client, "load_table_from_file", _inc("bigquery.load_job"), None),
        (bigquery.Client, "load_table_from_uri", _inc("bigquery.load_job"), None),
        *((bigquery.Client, name, _inc("bigquery.metadata"), None) for name in BIGQUERY_METADATA),
        (BigQueryReadClient, "create_read_session", _inc("bigquery.storage_read_session"), None),
        (BigQueryWriteClient, "create_write_stream", _inc("bigquery.write_create_stream"), None),
        (BigQueryWriteClient, "finalize_write_stream", _inc("bigquery.write_finalize"), None),
        (BigQueryWriteClient, "batch_commit_write_streams", _inc("bigquery.write_batch_commit"), None),
        (pubsub_v1.PublisherClient, "publish", _inc("pubsub.publish"), None),
        (tasks_v2.CloudTasksClient, "create_task", _inc("tasks.create"), None),
        (kms_v1.KeyManagementServiceClient, "decrypt", _inc("kms.decrypt"), None),
        (kms_v1.KeyManagementServiceClient, "encrypt", _inc("kms.encrypt"), None),
    ]
    wrapped = [
        (cls, name, tracer.wrap(getattr(cls, name), count, results)) for cls, name, count, results in patches
    ]
    append_rows = BigQueryWriteClient.append_rows
    wrapped.append((BigQueryWriteClient, "append_rows", _count_append(tracer, append_rows)))
    for cls, name, wrapper in wrapped:
        own = name in vars(cls)
        original = getattr(cls, name)
        setattr(cls, name, wrapper)
        if own:
            exits.callback(setattr, cls, name, original)
        else:  # inherited: removing the wrapper uncovers it again
            exits.callback(delattr, cls, name)


def _count_append(tracer: Tracer, original: Callable) -> Callable:
    """BigQueryWriteClient.append_rows counting one connection per call, and each request it sends with its
    serialized size (what the 10 MB request limit and the throughput quota count), as gRPC takes it."""

    @functools.wraps(original)
    def wrapper(client, requests=None, *args, **kwargs):
        counts = tracer.counts
        tracer.add(counts, "bigquery.write_connections")

        def counted():
            for request in requests:
                tracer.add(counts, "bigquery.write_append_requests")
                tracer.add(counts, "bigquery.write_append_bytes", _raw(request).ByteSize())
                yield request

        return original(client, counted(), *args, **kwargs)

    return wrapper


# --- one traced day -----------------------------------------------------------------------------------------------


class TraceError(RuntimeError):
    """The trace could not be taken as described (a refused request, a run that did not settle)."""


@dataclass
class Traced:
    """One pipeline's traced day: each phase's counts and wall seconds, and the jobs the stand-in listed."""

    pipeline: str
    request: Counter
    run: Counter
    api_seconds: float
    run_seconds: float
    listed_jobs: dict[str, int]


@dataclass
class Bench:
    """What the phases talk to: the api function in process, the worker's deps, the pull subscriptions."""

    tracer: Tracer
    api: object  # functions-framework's test client of functions/api/main.py
    worker: object  # WorkerDeps
    handle: Callable  # handle_run_event, counted as worker invocations
    subscriber: object
    subscriptions: dict[str, str]  # provider -> a pull subscription on its topic
    log: io.StringIO = field(default_factory=io.StringIO)  # what the api and the worker logged


def activate(stack) -> None:
    """This process talks to `stack` (its settings in the environment), with no client cached for another."""
    from shared.api import app
    from shared.platform import clients, settings
    from shared.worker import entry

    os.environ.update(stack.env())
    for cached in (
        settings.get_settings,
        clients.bigquery_client,
        clients.kms_client,
        clients.publisher_client,
        clients.subscriber_client,
        clients.tasks_client,
        clients.warehouse,
        entry.default_deps,
        app.default_deps,
    ):
        cached.cache_clear()


def onboard(stack, settings, provider: str) -> tuple[str, str]:
    """An org with the demo's credential for `provider` (a sandbox key, the synthetic export); (slug, api key)."""
    import uuid

    from devstack.providers import LOCAL_PROVIDERS
    from shared.tenancy import onboarding

    slug = f"trace_{provider}_{uuid.uuid4().hex[:6]}"
    created = onboarding.create_org(settings, slug, PLAN, "ACTIVE")
    credential = LOCAL_PROVIDERS[provider].demo_credential(stack, settings, slug)
    onboarding.set_credential(settings, slug, provider, credential.secret, credential.metadata)
    return slug, created["api_key"]


@contextmanager
def bench(stack, tracer: Tracer) -> Iterator[Bench]:
    """The api function and a worker in process, a pull subscription per provider topic, the clients wrapped."""
    import uuid

    from functions_framework import create_app

    from shared.api.app import default_deps
    from shared.platform.clients import make_bigquery_client, make_kms_client, make_subscriber_client
    from shared.warehouse.adapter import Warehouse
    from shared.worker.entry import WorkerDeps, handle_run_event

    settings = stack.settings()
    app = create_app("api", str(REPO / "functions" / "api" / "main.py"), "http")
    app.wsgi_app = tracer.counted(app.wsgi_app, "functions.invocation.api")
    warehouse = Warehouse(make_bigquery_client(settings), settings.project)
    worker = WorkerDeps(settings, warehouse, make_kms_client(settings))
    tracer.own_clients |= {id(default_deps().warehouse.client), id(warehouse.client)}
    subscriber, subscriptions = make_subscriber_client(settings), {}
    with ExitStack() as exits:
        for provider in sorted({pipeline.split("/")[0] for pipeline in PIPELINES}):
            topic = f"projects/{settings.project}/topics/{settings.topic_for(provider)}"
            name = f"projects/{settings.project}/subscriptions/trace-ops-{provider}-{uuid.uuid4().hex[:8]}"
            subscriber.create_subscription(request={"name": name, "topic": topic})
            exits.callback(subscriber.delete_subscription, request={"subscription": name})
            subscriptions[provider] = name
        install(tracer, exits)
        handle = tracer.counted(handle_run_event, "functions.invocation.worker")
        yield Bench(tracer, app.test_client(), worker, handle, subscriber, subscriptions)


def pull_event(bench: Bench, provider: str, run_id: str) -> dict:
    """The push event Pub/Sub makes of the run's published message, pulled from the provider's topic."""
    import base64

    from google.api_core import exceptions

    subscription = bench.subscriptions[provider]
    deadline = time.monotonic() + PULL_SECONDS
    while time.monotonic() < deadline:
        try:
            pulled = bench.subscriber.pull(
                request={"subscription": subscription, "max_messages": 10}, timeout=10
            )
        except exceptions.DeadlineExceeded:
            continue
        for received in pulled.received_messages:
            bench.subscriber.acknowledge(request={"subscription": subscription, "ack_ids": [received.ack_id]})
            message = received.message
            if message.attributes.get("pipeline_logging_id") == run_id:
                data = base64.b64encode(message.data).decode()
                pushed = {
                    "data": data,
                    "messageId": message.message_id,
                    "attributes": dict(message.attributes),
                }
                return {"message": pushed, "subscription": subscription}
    raise TraceError(f"run {run_id}: nothing published on {provider}'s topic within {PULL_SECONDS:.0f} s")


def deliver(bench: Bench, event: dict, provider: str) -> str:
    """Deliver the event until the worker acknowledges it (a transient failure is delivered again, as Pub/Sub
    would, up to the dead-letter limit); the worker's outcome."""
    from shared.platform.errors import TransientError
    from shared.providers.registry import PROVIDERS

    for delivery in range(1, MAX_DELIVERIES + 1):
        try:
            return bench.handle(event, PROVIDERS[provider], bench.worker)
        except TransientError as error:
            print(f"    delivery {delivery}: {error.code}, delivered again", file=sys.stderr)
    return "not settled"


def listed_jobs(bench: Bench, began: datetime, ended: datetime) -> int:
    """How many jobs the BigQuery stand-in lists as created within [began, ended), any user (the cross-check)."""
    jobs = bench.worker.warehouse.client.list_jobs(min_creation_time=began, all_users=True)
    return sum(1 for job in jobs if job.created is not None and began <= job.created < ended)


def run_day(bench: Bench, pipeline: str, slug: str, key: str, day: date, counting: bool = True) -> Traced:
    """One run of `pipeline` for `day`: the request (202 expected), then deliveries until it COMPLETED."""
    provider, tracer = pipeline.split("/")[0], bench.tracer
    request_began = datetime.now(UTC)
    with tracer.phase(counting) as request_counts, redirect_stdout(bench.log):
        started = time.perf_counter()
        response = bench.api.post(
            f"/api/v1/pipelines/run/{slug}/{pipeline}", json={"date": str(day)}, headers={"X-API-Key": key}
        )
        api_seconds = time.perf_counter() - started
    if response.status_code != 202:
        raise TraceError(
            f"{pipeline}: the api answered {response.status_code} {response.get_data(True)[:300]}"
        )
    run_id = response.get_json()["pipeline_logging_id"]
    event = pull_event(bench, provider, run_id)
    run_began = datetime.now(UTC)
    with tracer.phase(counting) as run_counts, redirect_stdout(bench.log):
        started = time.perf_counter()
        outcome = deliver(bench, event, provider)
        run_seconds = time.perf_counter() - started
    run_ended = datetime.now(UTC)
    if outcome != "completed":
        logged = "".join(bench.log.getvalue().splitlines(keepends=True)[-10:])
        raise TraceError(
            f"{pipeline} {day}: run {run_id} {outcome}, not completed; last log lines:\n{logged}"
        )
    jobs = {}
    if counting:
        jobs = {
            "request": listed_jobs(bench, request_began, run_began),
            "run": listed_jobs(bench, run_began, run_ended),
        }
    return Traced(pipeline, request_counts, run_counts, api_seconds, run_seconds, jobs)


# --- the whole trace, its checks and its profile ------------------------------------------------------------------

# What every traced day must show if the wrappers see the calls: (phase, op, at least, at most or None).
EXPECTED = (
    ("request", "functions.invocation.api", 1, 1),
    ("request", "firestore.transaction", 1, None),  # the reservation
    ("request", "firestore.write", 1, None),  # the run document created
    # The key lookup (never cached here) reads its document in the Firestore key index: no BigQuery job.
    ("request", "firestore.read", 1, None),
    ("request", QUERY, 0, 0),
    # The request path appends no history: the run's "requested" change waits in its document for the claim.
    ("request", "bigquery.streaming_requests", 0, 0),
    ("request", "pubsub.publish", 1, 1),
    ("run", "functions.invocation.worker", 1, None),
    ("run", "firestore.transaction", 2, None),  # the claim and the completion
    ("run", "firestore.org_document_write", 1, None),  # the slot released (the plan counts slots)
    ("run", "bigquery.streaming_requests", 1, None),  # the history of the claim and the completion
)


def check(traced: Traced) -> list[str]:
    """What shows that a wrapper missed calls: an expected call not counted, or a job count the stand-in's own
    job list contradicts."""
    problems = []
    for phase, op, least, most in EXPECTED:
        seen = getattr(traced, phase)[op]
        if seen < least or (most is not None and seen > most):
            problems.append(f"{traced.pipeline} {phase}: {op} = {seen}, expected {least}..{most or 'more'}")
    for phase, listed in traced.listed_jobs.items():
        counted = sum(getattr(traced, phase)[op] for op in JOB_OPS)
        if listed != counted:
            problems.append(f"{traced.pipeline} {phase}: {counted} jobs counted, the stand-in lists {listed}")
    return problems


def trace(day: date, warmup: bool, data_dir: Path) -> list[Traced]:
    """Start a stack, onboard an org per provider, trace one day of each pipeline; the traced days."""
    from devstack.stack import LocalStack
    from shared.tenancy import onboarding

    stack = LocalStack(
        data_dir, ports=LocalStack.free_ports(), start_functions=False, duckdb_home=DUCKDB_HOME
    )
    activate(stack)
    with stack:
        settings = stack.settings()
        orgs = {pipeline: onboard(stack, settings, pipeline.split("/")[0]) for pipeline in PIPELINES}
        tracer, traced = Tracer(settings.central_dataset), []
        with bench(stack, tracer) as bench_:
            for pipeline, (slug, key) in orgs.items():
                if warmup:
                    run_day(bench_, pipeline, slug, key, day - timedelta(days=1), counting=False)
                cold_key = onboarding.issue_api_key(settings, slug)["api_key"]
                traced.append(run_day(bench_, pipeline, slug, cold_key, day))
                print(
                    f"traced {pipeline} {day}: request {traced[-1].api_seconds:.2f} s, run "
                    f"{traced[-1].run_seconds:.2f} s"
                )
    return traced


def _mean(values) -> float:
    return round(statistics.fmean(values), 4)


def profile(traced: list[Traced], day: date, warmup: bool, load: tuple[float, float]) -> dict:
    """The scale model's profile: each operation's mean over the traced pipelines, per request and per run."""
    source = (
        f"benchmarks/trace_ops.py, {datetime.now(UTC):%Y-%m-%d}: one-day runs ({day}) of "
        f"{', '.join(t.pipeline for t in traced)}, one org each on plan {PLAN}, "
        f"{'after a warm-up run of the day before' if warmup else 'first runs (no warm-up)'}; the api function "
        "(functions-framework test client) and the worker (handle_run_event) in process against a local stack "
        "(local-bigquery 0.3.2, Firestore and Pub/Sub emulators, no functions); each request with an uncached "
        "key; counts are wrapped official client calls, means over the pipelines; seconds are wall time on "
        f"the local stack (load average {load[0]:.1f} before, {load[1]:.1f} after)"
    )
    return {
        "source": source,
        "pipelines_per_org": len(traced),
        "per_request": {op: _mean(t.request[op] for t in traced) for op in OPS},
        "per_run": {op: _mean(t.run[op] for t in traced) for op in OPS},
        "run_seconds": round(statistics.fmean(t.run_seconds for t in traced), 3),
        "api_seconds": round(statistics.fmean(t.api_seconds for t in traced), 3),
    }


def _figure(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def table(traced: list[Traced]) -> str:
    """Counts per pipeline and phase, with the means the profile holds; then what the profile leaves out."""
    heads = [f"{t.pipeline.split('/')[0]} {phase}" for t in traced for phase in ("req", "run")]
    lines = [f"{'operation':<32}" + "".join(f"{h:>14}" for h in [*heads, "mean req", "mean run"])]

    def row(label: str, values: list[float]) -> str:
        means = [statistics.fmean(values[0::2]), statistics.fmean(values[1::2])]
        return f"{label:<32}" + "".join(f"{_figure(v):>14}" for v in [*values, *means])

    def counts(op: str) -> list[float]:
        return [getattr(t, phase)[op] for t in traced for phase in ("request", "run")]

    lines += [row(op, counts(op)) for op in OPS]
    lines.append("-- not in the profile --")
    lines += [row(op, counts(op)) for op in EXTRAS]
    lines.append(
        row("jobs the stand-in listed", [t.listed_jobs[p] for t in traced for p in ("request", "run")])
    )
    lines.append(row("wall seconds", [s for t in traced for s in (t.api_seconds, t.run_seconds)]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    parser.add_argument("--date", type=date.fromisoformat, default=yesterday, help="the day each run loads")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the profile (default {DEFAULT_OUT})")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false", help="trace each org's first run")
    parser.add_argument("--data-dir", type=Path, help="the stack's data dir (default: a temporary one)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="dps-trace-ops-") as scratch:
            traced = trace(args.date, args.warmup, args.data_dir or Path(scratch))
    except TraceError as error:
        print(f"trace failed: {error}", file=sys.stderr)
        return 1
    print(table(traced))
    problems = [problem for t in traced for problem in check(t)]
    for problem in problems:
        print(f"wrapper check failed: {problem}", file=sys.stderr)
    if problems:
        return 1
    document = profile(traced, args.date, args.warmup, (load_before, os.getloadavg()[0]))
    parse_profile(document)  # the model's own reader refuses what it could not read
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
