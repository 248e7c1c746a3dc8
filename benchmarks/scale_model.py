"""Scale model: the largest fleet whose nightly schedule finishes in the window, and the limit that binds.

It reads an operations profile counted from one traced run on the local stack (written by
benchmarks/trace_ops.py; no figure of it is typed in here) and the documented platform limits below,
and prints the largest number of orgs N (each with `pipelines_per_org` nightly runs) for which every
limit is met within the window (2 hours), which limit binds, and the next two with their headroom.

Profile (JSON; the tracer writes exactly this, `Profile` below is its reader):

    {"source": "<how it was traced>",
     "pipelines_per_org": 3,
     "per_request": {OP: count, ...},   # one accepted run request: API function -> reservation -> publish
     "per_run": {OP: count, ...},       # one run from claim to completion in the worker (all its slices)
     "run_seconds": <worker seconds of one typical nightly run (one day)>,
     "api_seconds": <API function seconds of one request>}

Every OP of `OPS` must be present in both sections (0 when none). Counts may be averages (fractions).

The model. For N orgs the night holds N x pipelines runs, each one accepted request and one run. Each
limit turns one org's share of the night into what it consumes (operations, or busy seconds for
concurrency limits) and into its capacity within the window: a rate gives rate x W, a concurrency limit
slots x W, a daily quota its daily value, the Firestore 500/50/5 ramp the operations it allows in W. W is
the window minus one request and one run (the last run accepted must still finish). So each limit allows
N_max = capacity / (one org's demand), in closed form; the fleet is the smallest N_max, floored.

Scopes: `project` limits divide the fleet's totals; `per worker function` limits see only that function's
runs (the org's pipelines are spread one per provider function, as today: OpenAI, Anthropic, GCP, with a
service account each); `per org` limits (the org's own quota document, the org's own tables) see one
org's runs only, so they either fit or allow no org at all. Concurrency: function slots are max instances
x concurrency per instance; each run holds a worker slot for run_seconds and each request an API slot
(and a Cloud Tasks dispatch) for api_seconds.

    .venv/bin/python benchmarks/scale_model.py --profile .local/ops_profile.json
    .venv/bin/python benchmarks/scale_model.py --profile .local/ops_profile.json --json
    .venv/bin/python benchmarks/scale_model.py --profile P --instances worker=300 --raise-instances 2000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

OPS = (
    "firestore.transaction",
    "firestore.write",
    "firestore.read",
    "firestore.org_document_write",
    "bigquery.query",
    "bigquery.dml_central",
    "bigquery.streaming_rows",
    "bigquery.streaming_requests",
    "bigquery.load_job",
    "bigquery.org_dml",
    "bigquery.write_create_stream",
    "bigquery.write_connections",
    "bigquery.write_append_requests",
    "bigquery.write_append_bytes",
    "bigquery.write_finalize",
    "bigquery.write_batch_commit",
    "pubsub.publish",
    "tasks.create",
    "functions.invocation.api",
    "functions.invocation.worker",
)
SECTIONS = ("per_request", "per_run")
GOAL_ORGS = 100_000
READ_ON = "2026-11-29"  # the date the sources below were read in the stored documentation (unless named)

# Sources, as found in the stored documentation (title, address).
BQ_QUOTAS = "BigQuery: Quotas and limits, https://docs.cloud.google.com/bigquery/quotas"
# The stored copy of the quotas page lacks its Storage Write API section: its rows as quoted from the page in public
# repositories' notes (one quotes the current CreateWriteStream row, the others an older table with the same
# connection, throughput and request size rows), beside Google's best-practices page for the Write API.
BQ_WRITE_QUOTAS = (
    "BigQuery: Quotas and limits, Storage Write API, https://docs.cloud.google.com/bigquery/quotas#write-api-limits "
    "(rows as quoted in public repositories' notes)"
)
BQ_WRITE_BEST = "BigQuery Storage Write API best practices, https://cloud.google.com/bigquery/docs/write-api-best-practices"
WRITE_READ_ON = "2026-11-30"
BQ_QUEUES = "BigQuery: Use query queues, https://cloud.google.com/bigquery/docs/query-queues"
BQ_TRANSACTIONS = (
    "BigQuery: Multi-statement transactions, https://docs.cloud.google.com/bigquery/docs/transactions "
    "(its concurrency sentence as quoted in elementary-data/elementary#1109)"
)
FS_BEST = (
    "Firestore: Best practices (Ramping up traffic; Updates to a single document), "
    "https://firebase.google.com/docs/firestore/best-practices"
)
FS_RELEASE = "Firestore release notes, 2022-10-17, https://docs.cloud.google.com/firestore/docs/release-notes"
FS_MONGO_QUOTAS = (
    "Firestore with MongoDB compatibility: Quotas and limits, "
    "https://docs.cloud.google.com/firestore/mongodb-compatibility/quotas"
)
PS_QUOTAS = "Pub/Sub quotas and limits, https://cloud.google.com/pubsub/quotas"
PS_SUBSCRIPTION = "Pub/Sub API Subscription.ackDeadlineSeconds (client reference, googleapis.dev)"
CT_RATELIMITS = "Cloud Tasks v2 RateLimits reference (max_dispatches_per_second, max_concurrent_dispatches)"
CT_QUOTAS = "Cloud Tasks: Quotas and limits, https://cloud.google.com/tasks/docs/quotas"
RUN_MAX_INSTANCES = (
    "Cloud Run: About maximum instances, https://cloud.google.com/run/docs/configuring/max-instances-limits"
)
RUN_CONCURRENCY = (
    "Cloud Run functions: Concurrency, https://cloud.google.com/functions/docs/configuring/concurrency"
)
SCHEDULER_QUOTAS = "Cloud Scheduler: Quotas and limits, https://cloud.google.com/scheduler/quotas"
TERRAFORM = "this repository: terraform/modules/function/variables.tf"

# How a limit's capacity is counted.
RATE = "rate"  # operations per second, all through the window
DAILY = "daily"  # operations per day; the whole night may use all of it
CONCURRENT = "concurrent"  # slots held for the demand's busy seconds
INSTANCES = "instances"  # function max instances x concurrency per instance (slots), overridable
RAMP = "ramp"  # Firestore 500/50/5: start at `value` ops/s, +50 % every 5 minutes

ROLES = ("api", "worker")  # the function roles whose max instances can be overridden

PROJECT = "project"
WORKER_FUNCTION = "per worker function"
ORG = "per org"


class ProfileError(ValueError):
    """The operations profile is not what the tracer writes."""


@dataclass(frozen=True)
class Profile:
    """One traced request and run: operation counts and seconds (the tracer's JSON, validated)."""

    source: str
    pipelines_per_org: int
    per_request: dict[str, float]
    per_run: dict[str, float]
    run_seconds: float
    api_seconds: float

    def both(self, *ops: str) -> float:
        """Operations of one request plus one run."""
        return sum(self.per_request[op] + self.per_run[op] for op in ops)

    def run(self, *ops: str) -> float:
        """Operations of one run (the worker's share)."""
        return sum(self.per_run[op] for op in ops)

    def request(self, *ops: str) -> float:
        """Operations of one accepted request (the API function's share)."""
        return sum(self.per_request[op] for op in ops)


def _number(value: object, where: str) -> float:
    """A finite, non-negative number, or a ProfileError naming where it was read."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ProfileError(f"{where} must be a non-negative number, got {value!r}")
    return float(value)


def parse_profile(data: object) -> Profile:
    """Validate the tracer's JSON document: every key, every OP in both sections, no unknown OP."""
    if not isinstance(data, dict):
        raise ProfileError("the profile must be a JSON object")
    missing = [
        key
        for key in ("source", "pipelines_per_org", *SECTIONS, "run_seconds", "api_seconds")
        if key not in data
    ]
    if missing:
        raise ProfileError(f"the profile lacks {', '.join(missing)}")
    counts = {}
    for section in SECTIONS:
        given = data[section]
        if not isinstance(given, dict):
            raise ProfileError(f"{section} must be an object of OP: count")
        absent = [op for op in OPS if op not in given]
        if absent:
            raise ProfileError(f"{section} lacks the operation(s) {', '.join(absent)} (write 0 for none)")
        unknown = sorted(set(given) - set(OPS))
        if unknown:
            raise ProfileError(
                f"{section} has unknown operation(s) {', '.join(unknown)}; known: {', '.join(OPS)}"
            )
        counts[section] = {op: _number(given[op], f"{section}.{op}") for op in OPS}
    pipelines = data["pipelines_per_org"]
    if isinstance(pipelines, bool) or not isinstance(pipelines, int) or pipelines < 1:
        raise ProfileError(f"pipelines_per_org must be a positive integer, got {pipelines!r}")
    return Profile(
        source=str(data["source"]),
        pipelines_per_org=pipelines,
        per_request=counts["per_request"],
        per_run=counts["per_run"],
        run_seconds=_number(data["run_seconds"], "run_seconds"),
        api_seconds=_number(data["api_seconds"], "api_seconds"),
    )


def load_profile(path: Path) -> Profile:
    """Read and validate a profile file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"no profile at {path} (write one with benchmarks/trace_ops.py)") from None
    except json.JSONDecodeError as error:
        raise ProfileError(f"{path} is not JSON: {error}") from None
    return parse_profile(data)


@dataclass(frozen=True)
class Settings:
    """What the model is evaluated with: window, fleet shape, deployment choices and stated assumptions."""

    window_seconds: float = 7200.0
    pipelines: int = 3
    # The org's pipelines spread one per provider function.
    worker_functions: int = 3
    # Role -> max instances; a role not named keeps its limit's documented default.
    instances: Mapping[str, int] = field(default_factory=dict)
    # Requests per instance, per role, and vCPU per instance: the deployment's (terraform/modules/service: the api
    # serves 8 requests per instance, a worker one run per instance) and terraform/modules/function's `cpu`.
    concurrency: Mapping[str, int] = field(default_factory=lambda: {"api": 8, "worker": 1})
    cpu: float = 1.0
    # Assumed: one central BigQuery transaction's latency L (issue 13: about 1-5 s on BigQuery).
    dml_seconds: float = 1.0
    # Assumed: bytes of one streamed history row (the tracer counts rows, the quota counts bytes).
    row_bytes: float = 4096.0
    # Assumed: Pub/Sub quota kB per publish or push (messages are small: the 1 kB minimum quota unit).
    message_kb: float = 1.0


Demand = Callable[[Profile, Settings], float]


@dataclass(frozen=True)
class Limit:
    """A documented (or, where marked, assumed) platform limit and what of one org's night it consumes."""

    key: str
    name: str
    value: float
    unit: str
    kind: str
    scope: str
    demand: Demand  # one org's share of the night, in the limit's own unit (ops, or busy seconds)
    source: str
    note: str = ""
    assumed: bool = False
    role: str = ""  # INSTANCES only: which function ("api", "worker")
    read_on: str = READ_ON


def _per_org(count: Callable[[Profile], float]) -> Demand:
    """One org's night: `count` for one pipeline's request and run, times the pipelines."""
    return lambda profile, settings: settings.pipelines * count(profile)


BQ_JOB_OPS = ("bigquery.query", "bigquery.load_job", "bigquery.org_dml", "bigquery.dml_central")


def _bigquery_busy_seconds(profile: Profile, settings: Settings) -> float:
    """Seconds one org's night may hold a BigQuery job in flight: all of a run's (request's) if it has one."""
    run = profile.run_seconds if profile.run(*BQ_JOB_OPS) else 0.0
    request = profile.api_seconds if profile.request(*BQ_JOB_OPS) else 0.0
    return settings.pipelines * (run + request)


LIMITS: tuple[Limit, ...] = (
    # BigQuery
    Limit(
        key="bq_load_jobs_day",
        name="BigQuery load jobs per project per day",
        value=100_000,
        unit="jobs per day",
        kind=DAILY,
        scope=PROJECT,
        demand=_per_org(lambda p: p.both("bigquery.load_job")),
        source=BQ_QUOTAS,
        note="replenished through the day: the night may spend a whole day's quota if nothing else loads",
    ),
    Limit(
        key="bq_jobs_query_worker",
        name="BigQuery API jobs.query per service account (one worker function)",
        value=100,
        unit="requests per second per user per method",
        kind=RATE,
        scope=WORKER_FUNCTION,
        demand=_per_org(lambda p: p.run("bigquery.query", "bigquery.org_dml", "bigquery.dml_central")),
        source=BQ_QUOTAS,
        note="queries and DML go through query_and_wait (jobs.query); an account per provider function",
    ),
    Limit(
        key="bq_jobs_insert_worker",
        name="BigQuery API jobs.insert per service account (worker load jobs)",
        value=100,
        unit="requests per second per user per method",
        kind=RATE,
        scope=WORKER_FUNCTION,
        demand=_per_org(lambda p: p.run("bigquery.load_job")),
        source=BQ_QUOTAS,
        note="load jobs are created with jobs.insert",
    ),
    Limit(
        key="bq_jobs_api",
        name="BigQuery API jobs per service account (API function)",
        value=100,
        unit="requests per second per user per method",
        kind=RATE,
        scope=PROJECT,
        demand=_per_org(lambda p: p.request(*BQ_JOB_OPS)),
        source=BQ_QUOTAS,
        note="key lookups and any other job the API function starts",
    ),
    Limit(
        key="bq_inflight_queries",
        name="BigQuery interactive queries queued per project",
        value=1_000,
        unit="queries",
        kind=CONCURRENT,
        scope=PROJECT,
        demand=_bigquery_busy_seconds,
        source=BQ_QUEUES,
        note="how many run is dynamic and not stated: conservatively every job in flight counts as queued, "
        "and a run (request) holding one for all its seconds",
    ),
    Limit(
        key="bq_streaming_bytes",
        name="BigQuery streaming inserts per project (US/EU multi-region)",
        value=1e9,
        unit="bytes per second",
        kind=RATE,
        scope=PROJECT,
        demand=lambda p, s: s.pipelines * p.both("bigquery.streaming_rows") * s.row_bytes,
        source=BQ_QUOTAS,
        note="300 MB/s in other locations; no rows or requests per second limit is stated (the 100 "
        "requests/s API limit excludes streaming)",
    ),
    Limit(
        key="bq_write_create_stream",
        name="BigQuery Storage Write API CreateWriteStream per project per region",
        value=10_000 / 3600,
        unit="streams per second (10,000 every hour)",
        kind=RATE,
        scope=PROJECT,
        demand=_per_org(lambda p: p.both("bigquery.write_create_stream")),
        source=BQ_WRITE_QUOTAS + "; " + BQ_WRITE_BEST,
        note="every PENDING, BUFFERED or COMMITTED stream; the default stream needs none (an older table: "
        "30,000 every 4 hours per project); latency grows past 40-50 calls a second",
        read_on=WRITE_READ_ON,
    ),
    Limit(
        key="bq_write_throughput",
        name="BigQuery Storage Write API throughput per project (US/EU multi-region)",
        value=3e9,
        unit="bytes per second",
        kind=RATE,
        scope=PROJECT,
        demand=_per_org(lambda p: p.both("bigquery.write_append_bytes")),
        source=BQ_WRITE_QUOTAS,
        note="300 MB/s in a region; AppendRows request bytes as the tracer counts them (the deployment's "
        "BIGQUERY_LOCATION is US)",
        read_on=WRITE_READ_ON,
    ),
    Limit(
        key="bq_write_connections",
        name="BigQuery Storage Write API concurrent connections per project (multi-region)",
        value=10_000,
        unit="connections",
        kind=CONCURRENT,
        scope=PROJECT,
        demand=lambda p, s: s.pipelines * p.run_seconds * min(1.0, p.run("bigquery.write_connections")),
        source=BQ_WRITE_QUOTAS,
        note="100 in a region (the older table); a run that appends is taken to hold one connection for all "
        "its seconds (its stages are written one after the other, a connection per write)",
        read_on=WRITE_READ_ON,
    ),
    Limit(
        key="bq_central_dml_rate",
        name="BigQuery DML statements per table (central table)",
        value=2.5,
        unit="statements per second per table (25 every 10 s)",
        kind=RATE,
        scope=PROJECT,
        demand=_per_org(lambda p: p.both("bigquery.dml_central")),
        source=BQ_QUOTAS,
        note="all central DML taken as one table's; 2 running and 20 queued mutating DML per table",
    ),
    Limit(
        key="bq_central_serial",
        name="BigQuery central table: one mutating transaction at a time",
        value=1,
        unit="transaction at a time per table, each taking L",
        kind=CONCURRENT,
        scope=PROJECT,
        demand=lambda p, s: s.pipelines * p.both("bigquery.dml_central") * s.dml_seconds,
        source=BQ_TRANSACTIONS,
        note="transactions mutating one table cannot run concurrently and conflicting ones are cancelled, so "
        "the fleet gets one statement every L seconds (L assumed: --dml-seconds)",
    ),
    Limit(
        key="bq_org_dml_rate",
        name="BigQuery DML statements per table (the org's table)",
        value=2.5,
        unit="statements per second per table (25 every 10 s)",
        kind=RATE,
        scope=ORG,
        demand=_per_org(lambda p: p.both("bigquery.org_dml")),
        source=BQ_QUOTAS,
        note="all of them taken as one of the org's tables",
    ),
    Limit(
        key="bq_org_table_mods",
        name="BigQuery table modifications per table per day (the org's table)",
        value=1_500,
        unit="load or query jobs writing the table per day",
        kind=DAILY,
        scope=ORG,
        demand=_per_org(lambda p: p.both("bigquery.load_job")),
        source=BQ_QUOTAS,
        note="DML and streaming do not count",
    ),
    Limit(
        key="bq_org_table_meta",
        name="BigQuery table update operations per table (the org's table)",
        value=0.5,
        unit="operations per second per table (5 every 10 s)",
        kind=RATE,
        scope=ORG,
        demand=_per_org(lambda p: p.both("bigquery.load_job", "bigquery.org_dml")),
        source=BQ_QUOTAS,
        note="load jobs and DML count (DML is not refused by it); 50 every 10 s for a partitioned table",
    ),
    # Firestore
    Limit(
        key="fs_org_document",
        name="Firestore sustained writes to one document (the org's quota document)",
        value=1,
        unit="writes per second per document",
        kind=RATE,
        scope=ORG,
        demand=_per_org(lambda p: p.both("firestore.org_document_write")),
        source=FS_BEST,
        note="the stored pages give no figure ('depends highly on the workload'); 1/s is the old guideline",
        assumed=True,
    ),
    Limit(
        key="fs_ramp",
        name="Firestore 500/50/5 ramp (reads and writes)",
        value=500,
        unit="operations per second at first, +50 % every 5 minutes",
        kind=RAMP,
        scope=PROJECT,
        demand=_per_org(lambda p: p.both("firestore.read", "firestore.write")),
        source=FS_BEST,
        note="a guideline for new traffic, applied as if every night started cold; no writes-per-second "
        "database limit since 2022-10-17",
    ),
    # Pub/Sub
    Limit(
        key="ps_publish",
        name="Pub/Sub publisher throughput per region (small regions)",
        value=50_000,
        unit="kB per second (3,000,000 kB per minute)",
        kind=RATE,
        scope=PROJECT,
        demand=lambda p, s: s.pipelines * p.both("pubsub.publish") * s.message_kb,
        source=PS_QUOTAS,
        note="200 MB/s in the large regions europe-west1, us-central1, us-east1",
    ),
    Limit(
        key="ps_push",
        name="Pub/Sub push subscriber throughput per region",
        value=5_000,
        unit="kB per second",
        kind=RATE,
        scope=PROJECT,
        demand=lambda p, s: s.pipelines * p.both("functions.invocation.worker") * s.message_kb,
        source=PS_QUOTAS,
        note="not in the stored page: a quarter of a third-party quote (20 MB/s, large regions), the "
        "publish quota's small/large ratio",
        assumed=True,
    ),
    # Cloud Tasks
    Limit(
        key="ct_dispatch",
        name="Cloud Tasks dispatches per queue (highest settable rate)",
        value=500,
        unit="dispatches per second per queue",
        kind=RATE,
        scope=PROJECT,
        demand=lambda p, s: s.pipelines,
        source=CT_RATELIMITS,
        note="one named task per scheduled run; the deployed queue is set far lower (terraform: 5/s)",
    ),
    Limit(
        key="ct_concurrent",
        name="Cloud Tasks concurrent dispatches per queue (highest settable)",
        value=5_000,
        unit="dispatches in flight per queue",
        kind=CONCURRENT,
        scope=PROJECT,
        demand=lambda p, s: s.pipelines * p.api_seconds,
        source=CT_RATELIMITS,
        note="a dispatch is one process-queue request of api_seconds (terraform: 10 in flight)",
    ),
    Limit(
        key="ct_api",
        name="Cloud Tasks API requests per project",
        value=100_000,
        unit="requests per second (6,000,000 per minute)",
        kind=RATE,
        scope=PROJECT,
        demand=_per_org(lambda p: p.both("tasks.create")),
        source=CT_QUOTAS,
        note="read in an older (nl) version of the page",
    ),
    # Cloud Run functions (gen2)
    Limit(
        key="fn_worker",
        name="Worker function slots (max instances x concurrency, one provider function)",
        value=100,
        unit="max instances per function (default)",
        kind=INSTANCES,
        scope=WORKER_FUNCTION,
        demand=lambda p, s: s.pipelines * p.run_seconds,
        source=RUN_MAX_INSTANCES,
        note="100 by default, raisable up to the regional CPU and memory quota; concurrency from terraform",
        role="worker",
    ),
    Limit(
        key="fn_api",
        name="API function slots (max instances x concurrency)",
        value=100,
        unit="max instances per function (default)",
        kind=INSTANCES,
        scope=PROJECT,
        demand=lambda p, s: s.pipelines * p.api_seconds,
        source=RUN_MAX_INSTANCES,
        note="every scheduled run is one process-queue request",
        role="api",
    ),
    Limit(
        key="run_region_cpu",
        name="Cloud Run vCPU per region (all functions)",
        value=1_000,
        unit="vCPU",
        kind=CONCURRENT,
        scope=PROJECT,
        demand=lambda p, s: (
            s.pipelines
            * (p.run_seconds / s.concurrency["worker"] + p.api_seconds / s.concurrency["api"])
            * s.cpu
        ),
        source=RUN_MAX_INSTANCES,
        note="the page's example baseline; each region's own is in the console",
        assumed=True,
    ),
)


# Documented bounds that are not throughput: shown with the table, not modelled.
BOUNDS: tuple[tuple[str, str, str], ...] = (
    ("Firestore writes per second per database", "no limit (removed 2022-10-17; it was 10,000)", FS_RELEASE),
    (
        "Firestore transaction time limit",
        "270 s, 60 s idle expiration",
        FS_MONGO_QUOTAS + " (Native page row not in the store)",
    ),
    ("Pub/Sub ack deadline (= push request timeout)", "600 s at most", PS_SUBSCRIPTION),
    ("BigQuery queued mutating DML per table", "20 (more fail)", BQ_QUOTAS),
    (
        "BigQuery Storage Write API request size",
        "10 MB per AppendRows request (the writer cuts batches to 8 MB)",
        BQ_WRITE_QUOTAS,
    ),
    (
        "BigQuery Storage Write API pending stream bytes; batch commits",
        "10 TB per commit in multi-regions; 10,000 streams per table (PENDING streams only: none used)",
        BQ_WRITE_QUOTAS,
    ),
    (
        "Cloud Run functions concurrency per instance",
        "1 by default, at most 1,000; 8 advised to start",
        RUN_CONCURRENCY,
    ),
    (
        "Cloud Scheduler jobs per region",
        "1,000 by default (5,000 max); HTTP attempt at most 30 min",
        SCHEDULER_QUOTAS,
    ),
)


def ramp_capacity(start_rate: float, seconds: float) -> float:
    """Operations the 500/50/5 rule allows in `seconds`: `start_rate`/s, +50 % after every 5 minutes."""
    steps, rest = divmod(seconds, 300.0)
    full = start_rate * 300.0 * (1.5**steps - 1) / 0.5
    return full + start_rate * 1.5**steps * rest


def capacity(limit: Limit, settings: Settings, seconds: float) -> float:
    """What the limit allows within `seconds`, in the unit of its demand."""
    if limit.kind == RATE:
        return limit.value * seconds
    if limit.kind == DAILY:
        return limit.value
    if limit.kind == CONCURRENT:
        return limit.value * seconds
    if limit.kind == INSTANCES:
        return settings.instances.get(limit.role, limit.value) * settings.concurrency[limit.role] * seconds
    if limit.kind == RAMP:
        return ramp_capacity(limit.value, seconds)
    raise ValueError(f"unknown kind {limit.kind}")


@dataclass(frozen=True)
class Verdict:
    """One limit evaluated: one org's demand, its capacity in the window, and the orgs it allows."""

    limit: Limit
    demand: float  # one org's demand as this limit sees it (a worker function's share where per function)
    capacity: float
    max_orgs: float  # math.inf when the limit never binds

    def use(self, orgs: int) -> float:
        """Fraction of the limit a fleet of `orgs` uses (per org limits: one org's fraction)."""
        if self.demand == 0:
            return 0.0
        if self.limit.scope == ORG:
            return self.demand / self.capacity if self.capacity else math.inf
        return orgs / self.max_orgs if self.max_orgs else math.inf


def evaluate(limit: Limit, profile: Profile, settings: Settings, seconds: float) -> Verdict:
    """One limit's N_max: capacity over one org's demand (per org limits: fits, or no org at all)."""
    demand = limit.demand(profile, settings)
    if limit.scope == WORKER_FUNCTION:
        demand /= settings.worker_functions
    cap = capacity(limit, settings, seconds)
    if demand == 0:
        orgs = math.inf
    elif limit.scope == ORG:
        orgs = math.inf if demand <= cap else 0.0
    else:
        orgs = cap / demand
    return Verdict(limit, demand, cap, orgs)


@dataclass(frozen=True)
class Result:
    """The model's answer for one set of settings."""

    settings: Settings
    effective_seconds: float
    max_orgs: float
    verdicts: tuple[Verdict, ...]  # sorted, the binding one first

    @property
    def binding(self) -> Verdict:
        """The limit that allows the fewest orgs."""
        return self.verdicts[0]


def solve(profile: Profile, settings: Settings, limits: tuple[Limit, ...] = LIMITS) -> Result:
    """The largest fleet meeting every limit in the window, with every limit's verdict (binding first)."""
    effective = settings.window_seconds - profile.run_seconds - profile.api_seconds
    if effective <= 0:
        raise ProfileError(
            f"one request and run take {profile.api_seconds + profile.run_seconds:g} s, "
            f"not less than the {settings.window_seconds:g} s window"
        )
    verdicts = sorted(
        (evaluate(limit, profile, settings, effective) for limit in limits), key=lambda v: v.max_orgs
    )
    best = verdicts[0].max_orgs
    return Result(settings, effective, best if math.isinf(best) else math.floor(best), tuple(verdicts))


def instances(settings: Settings) -> dict[str, float]:
    """Max instances per function role: the override, else the limit's documented default."""
    return {l.role: settings.instances.get(l.role, l.value) for l in LIMITS if l.kind == INSTANCES}


def _finite(value: float) -> float | None:
    """JSON has no infinity: None stands for 'never binds'."""
    return None if math.isinf(value) else value


def row(verdict: Verdict, result: Result) -> dict:
    """One limit as data: what it is, where it was read, what it allows and what the fleet uses of it."""
    limit, orgs = verdict.limit, result.max_orgs
    fleet = 0 if math.isinf(orgs) else orgs
    use = verdict.use(fleet)
    timed = limit.kind != DAILY and verdict.demand > 0
    runs_per_hour = None
    if limit.scope != ORG and limit.kind != DAILY and not math.isinf(verdict.max_orgs):
        runs_per_hour = verdict.max_orgs * result.settings.pipelines / result.effective_seconds * 3600
    tail = result.settings.window_seconds - result.effective_seconds
    return {
        "key": limit.key,
        "name": limit.name,
        "value": limit.value
        if limit.kind != INSTANCES
        else result.settings.instances.get(limit.role, limit.value),
        "unit": limit.unit,
        "kind": limit.kind,
        "scope": limit.scope,
        "assumed": limit.assumed,
        "source": limit.source,
        "read_on": limit.read_on,
        "note": limit.note,
        "demand_per_org": verdict.demand,
        "capacity": verdict.capacity,
        "max_orgs": _finite(
            math.floor(verdict.max_orgs) if math.isfinite(verdict.max_orgs) else verdict.max_orgs
        ),
        "runs_per_hour": runs_per_hour,
        "use_at_fleet": _finite(use),
        "seconds_at_fleet": _finite(tail + use * result.effective_seconds) if timed else None,
        "headroom": _finite(1 / use) if use else None,
    }


def report(profile: Profile, result: Result, raised: Result | None) -> dict:
    """The whole answer as data (what --json prints)."""
    rows = [row(v, result) for v in result.verdicts]
    settings = result.settings
    out = {
        "profile": {
            "source": profile.source,
            "pipelines_per_org": profile.pipelines_per_org,
            "run_seconds": profile.run_seconds,
            "api_seconds": profile.api_seconds,
        },
        "window_seconds": settings.window_seconds,
        "effective_seconds": result.effective_seconds,
        "pipelines": settings.pipelines,
        "worker_functions": settings.worker_functions,
        "instances": instances(settings),
        "concurrency": dict(settings.concurrency),
        "max_orgs": _finite(result.max_orgs),
        "nightly_runs": _finite(result.max_orgs * settings.pipelines),
        "goal_orgs": GOAL_ORGS,
        "goal_met": result.max_orgs >= GOAL_ORGS,
        "binding": rows[0],
        "next": rows[1:3],
        "limits": rows,
        "assumptions": {
            "dml_seconds": settings.dml_seconds,
            "row_bytes": settings.row_bytes,
            "message_kb": settings.message_kb,
            "cpu_per_instance": settings.cpu,
        },
        "bounds": [{"name": n, "value": v, "source": s, "read_on": READ_ON} for n, v, s in BOUNDS],
    }
    if raised is not None:
        raised_rows = [row(v, raised) for v in raised.verdicts]
        out["raised"] = {
            "instances": instances(raised.settings),
            "max_orgs": _finite(raised.max_orgs),
            "goal_met": raised.max_orgs >= GOAL_ORGS,
            "binding": raised_rows[0],
            "next": raised_rows[1:3],
        }
    return out


def _count(value: float | None) -> str:
    """An org or run count for people: thousands separated, 'unbounded' for None."""
    return "unbounded" if value is None else f"{value:,.0f}"


def _value(value: float) -> str:
    """A limit's value for people: 1,000,000,000 rather than 1e+09, 2.5 as it is."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,g}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} s"


def _use(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}" if value < 10 else f"{value:.0f}x"


def render(data: dict) -> str:
    """The report as a readable table."""
    p = data["profile"]
    head = (
        f"Scale model: profile {p['source']!r} ({data['pipelines']} nightly runs per org; one request "
        f"{p['api_seconds']:g} s, one run {p['run_seconds']:g} s of worker time)"
    )
    lines = textwrap.wrap(head, width=110, subsequent_indent=" " * 2)
    inst = ", ".join(f"{k} {v:,}" for k, v in data["instances"].items())
    lines.append(
        f"Window {data['window_seconds']:,.0f} s ({data['effective_seconds']:,.0f} s after the last request "
        f"and run); max instances {inst}; requests per instance "
        + ", ".join(f"{role} {n}" for role, n in data["concurrency"].items())
    )
    verdict = "met" if data["goal_met"] else "NOT met"
    lines.append(
        f"Largest fleet: {_count(data['max_orgs'])} orgs ({_count(data['nightly_runs'])} nightly runs); "
        f"goal {data['goal_orgs']:,} orgs: {verdict}"
    )
    b = data["binding"]
    rate = "" if b["runs_per_hour"] is None else f", {b['runs_per_hour']:,.0f} runs an hour"
    lines.append(f"Binding: {b['name']}: {_count(b['max_orgs'])} orgs{rate}")
    for n in data["next"]:
        lines.append(
            f"Next:    {n['name']}: {_count(n['max_orgs'])} orgs, headroom "
            f"{'-' if n['headroom'] is None else format(n['headroom'], ',.2f') + 'x'}"
        )
    if "raised" in data:
        r = data["raised"]
        inst = ", ".join(f"{k} {v:,}" for k, v in r["instances"].items())
        then = "; ".join(f"{n['name']} ({_count(n['max_orgs'])})" for n in r["next"])
        text = f"With max instances raised ({inst}): {_count(r['max_orgs'])} orgs"
        text += f"; binding: {r['binding']['name']}"
        lines += textwrap.wrap(f"{text}; next: {then}", width=110, subsequent_indent=" " * 9)
    lines += [
        "",
        f"{'orgs allowed':>14} {'use':>6} {'time':>9}  limit (value; scope) at the fleet above; * assumed",
    ]
    for r in data["limits"]:
        star = " *" if r["assumed"] else ""
        lines.append(
            f"{_count(r['max_orgs']):>14} {_use(r['use_at_fleet']):>6} {_seconds(r['seconds_at_fleet']):>9}  "
            f"{r['name']}{star}"
        )
        text = f"{_value(r['value'])} {r['unit']}; {r['scope']}. {r['note']}".rstrip(". ") + "."
        lines += textwrap.wrap(text, width=110, initial_indent=" " * 32, subsequent_indent=" " * 32)
    lines += ["", "Not modelled (bounds, not throughput):"]
    lines += [f"  {b['name']}: {b['value']}" for b in data["bounds"]]
    a = data["assumptions"]
    lines += [
        "",
        (
            f"Assumed: a central BigQuery transaction takes {a['dml_seconds']:g} s; a streamed row is "
            f"{a['row_bytes']:,.0f} bytes; a Pub/Sub message is {a['message_kb']:g} kB; "
            f"{a['cpu_per_instance']:g} vCPU per instance."
        ),
        f"Sources (read {READ_ON}; the Storage Write API's {WRITE_READ_ON}):",
    ]
    sources = dict.fromkeys([r["source"] for r in data["limits"]] + [b["source"] for b in data["bounds"]])
    lines += [f"  {s}" for s in sources]
    return "\n".join(lines)


def _instances(text: str) -> tuple[str, int]:
    """Parse ROLE=COUNT for --instances."""
    role, _, count = text.partition("=")
    if role not in ROLES or not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"expected api=N or worker=N, got {text!r}")
    return role, int(count)


def main(argv: list[str] | None = None) -> int:
    """Print the largest fleet and its binding limits (a table, or JSON with --json)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--profile", type=Path, required=True, help="the tracer's JSON (benchmarks/trace_ops.py)"
    )
    parser.add_argument(
        "--window-seconds", type=float, default=7200.0, help="the nightly window (default 7200)"
    )
    parser.add_argument(
        "--pipelines", type=int, help="nightly runs per org (default: the profile's pipelines_per_org)"
    )
    parser.add_argument(
        "--worker-functions", type=int, help="provider functions the runs spread over (default: pipelines)"
    )
    parser.add_argument(
        "--instances",
        type=_instances,
        action="append",
        default=[],
        metavar="ROLE=N",
        help="max instances of the api or worker functions (default: the documented default, 100 each)",
    )
    parser.add_argument(
        "--raise-instances",
        type=int,
        default=1000,
        metavar="N",
        help="also print the fleet with every function's max instances at N (default 1000; 0: no)",
    )
    parser.add_argument(
        "--dml-seconds", type=float, default=1.0, help="assumed latency L of one central transaction"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        profile = load_profile(args.profile)
        pipelines = args.pipelines or profile.pipelines_per_org
        settings = Settings(
            window_seconds=args.window_seconds,
            pipelines=pipelines,
            worker_functions=args.worker_functions or pipelines,
            instances=dict(args.instances),
            dml_seconds=args.dml_seconds,
        )
        result = solve(profile, settings)
        raised = None
        if args.raise_instances:
            every = {role: args.raise_instances for role in ROLES}
            raised = solve(profile, replace(settings, instances=every))
    except ProfileError as error:
        print(f"scale_model: {error}", file=sys.stderr)
        return 2
    data = report(profile, result, raised)
    print(json.dumps(data, indent=2) if args.json else render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
