"""Run admission: plan limits and the atomic reservation, one Firestore transaction per org and batch.

Every request of one org that waits in this instance at a moment is decided in one transaction on that org's
documents only (its quota document, its rate shards, its duplicate index), in arrival order, so orgs never
contend with each other and one org's burst costs one transaction per batch, not per request.

Hot documents (Firestore sustains about one write a second per document): the org's quota document is read
and written only for plans with a finite concurrency, daily or monthly limit (at most 100 runs a day on the
largest such plan, plus their completions); an unlimited plan's runs hold no slot and are not counted there.
The per-minute rate is a sliding window counted in shards of at most RATE_PER_SHARD requests each (a shard takes
at most one write per request, so about one a second), and the shards' budgets add up to the plan's limit exactly.
Requests refused before their reservation count against the rate too (`count_refused_request`).
"""

from __future__ import annotations

import calendar
import functools
import math
import random
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.platform.errors import ApiError
from shared.platform.identifiers import SCHEDULER_TRIGGER
from shared.platform.settings import Settings
from shared.runs import control
from shared.runs.group_commit import GroupCommit
from shared.runs.history import RunHistory
from shared.runs.model import COMPLETED, IN_FLIGHT, PENDING, RUNNING, RunRequest, fingerprint
from shared.runs.run_log import first_transition, new_run_document, record_history
from shared.tenancy.subscriptions import PlanLimits
from shared.warehouse.adapter import Warehouse

ACCEPTED, DUPLICATE = "ACCEPTED", "DUPLICATE"
COUNTED = "COUNTED"  # a refused request, counted against the rate
RATE_LIMITED, CONCURRENCY_LIMIT_REACHED = "RATE_LIMITED", "CONCURRENCY_LIMIT_REACHED"
QUOTA_DAILY_EXCEEDED, QUOTA_MONTHLY_EXCEEDED = "QUOTA_DAILY_EXCEEDED", "QUOTA_MONTHLY_EXCEEDED"
CONCURRENCY_RETRY_AFTER_SECONDS = 30
RATE_PER_SHARD = 60  # requests a minute one rate shard counts: about one write a second at most
RATE_WINDOW_SECONDS = 60.0  # the plans' requests_per_minute, as a sliding window
MAX_BATCH = 32


@dataclass(frozen=True)
class Reservation:
    """What the reservation decided: ACCEPTED, DUPLICATE (of `existing_id`) or the limit that refused it; for a
    re-opened run (`reopen_run`), REOPENED, REQUEUED or why it was left alone, and the run's `prior_status`."""

    decision: str
    existing_id: str | None = None
    existing_status: str | None = None
    prior_status: str | None = None
    retry_after: float | None = None  # RATE_LIMITED: seconds until the window has room again


@dataclass(frozen=True)
class Ask:
    """One run request waiting to be decided, with its plan's limits and its clock; `request` None: a request
    refused before its reservation (bad body, unknown pipeline, ...), which only counts against the org's rate."""

    request: RunRequest | None
    limits: PlanLimits
    now: datetime
    refused_org: str | None = None  # the org of a refused request (request None)

    @property
    def org_slug(self) -> str:
        return self.request.org_slug if self.request else self.refused_org


def counts_slots(limits: PlanLimits) -> bool:
    """Whether runs under these limits take a slot and are counted in the org's quota document."""
    return any(
        value is not None for value in (limits.concurrent_runs, limits.daily_runs, limits.monthly_runs)
    )


def rate_shards(limit: int) -> list[int]:
    """The per-minute budget of each rate shard: as many shards as RATE_PER_SHARD needs, adding up to `limit`."""
    count = max(1, math.ceil(limit / RATE_PER_SHARD))
    return [limit // count + (1 if index < limit % count else 0) for index in range(count)]


class _RateBudget:
    """The org's rate shards read in a transaction: a sliding window of RATE_WINDOW_SECONDS. Each shard holds the
    times of the requests it counted in the last window and takes one more only under its budget, so in any
    window of that length at most the plan's limit pass (a fixed per-minute window would let twice the limit
    through across a minute boundary)."""

    def __init__(self, transaction, db, org_slug: str, limit: int):
        self.transaction = transaction
        self.budgets = rate_shards(limit)
        self.refs = [control.rate_ref(db, org_slug, i) for i in range(len(self.budgets))]
        # Start at a random shard so concurrent instances spread their writes over the shards.
        self.order = random.sample(range(len(self.budgets)), len(self.budgets))
        self.times: dict[int, list[float]] = {}
        self.taken: set[int] = set()

    def _times(self, index: int, now: float) -> list[float]:
        if index not in self.times:
            snapshot = self.refs[index].get(transaction=self.transaction)
            self.times[index] = list(snapshot.get("times") or []) if snapshot.exists else []
        self.times[index] = [at for at in self.times[index] if at > now - RATE_WINDOW_SECONDS]
        return self.times[index]

    def take(self, now: datetime) -> float | None:
        """Count one request at `now`: None if a shard had room, else the seconds until one will have."""
        at = now.timestamp()
        for index in self.order:
            times = self._times(index, at)
            if len(times) < self.budgets[index]:
                times.append(at)
                self.taken.add(index)
                return None
        # Shard i has room again when its (len - budget)-th oldest time leaves the window.
        waits = [
            sorted(times)[len(times) - budget] + RATE_WINDOW_SECONDS - at
            for i in self.order
            if (budget := self.budgets[i]) > 0 and (times := self.times[i])
        ]
        return min(waits, default=RATE_WINDOW_SECONDS)

    def writes(self) -> list[tuple[object, dict]]:
        writes = []
        for index in sorted(self.taken):
            times = sorted(self.times[index])
            expire_at = datetime.fromtimestamp(times[-1], UTC) + control.RATE_RETENTION
            writes.append((self.refs[index], {"times": times, "expire_at": expire_at}))
        return writes


class _Quota:
    """The org's quota document as a transaction reads it, rolled to `now`'s day and month."""

    def __init__(self, values: dict):
        self.values = dict(values)
        self.changed = False

    def rolled(self, now: datetime) -> tuple[int, int, int]:
        """(running, runs today, runs this month) as of `now`."""
        today, month = now.date().isoformat(), now.date().replace(day=1).isoformat()
        daily = self.values.get("daily_runs", 0) if self.values.get("day") == today else 0
        monthly = self.values.get("monthly_runs", 0) if self.values.get("month") == month else 0
        return self.values.get("running", 0), daily, monthly

    def refusal(self, limits: PlanLimits, now: datetime) -> str | None:
        running, daily, monthly = self.rolled(now)
        if limits.concurrent_runs is not None and running >= limits.concurrent_runs:
            return CONCURRENCY_LIMIT_REACHED
        if limits.daily_runs is not None and daily >= limits.daily_runs:
            return QUOTA_DAILY_EXCEEDED
        if limits.monthly_runs is not None and monthly >= limits.monthly_runs:
            return QUOTA_MONTHLY_EXCEEDED
        return None

    def take(self, now: datetime) -> None:
        running, daily, monthly = self.rolled(now)
        self.values.update(
            running=running + 1,
            day=now.date().isoformat(),
            daily_runs=daily + 1,
            month=now.date().replace(day=1).isoformat(),
            monthly_runs=monthly + 1,
            updated_at=now,
        )
        self.changed = True


def decide_org_batch(db, asks: list[Ask]) -> tuple[list[Reservation], list[dict]]:
    """Decide the asks of one org in one transaction, in order, as if each came alone; returns the decisions and
    the documents of the runs created (for the history)."""
    from google.cloud import firestore

    org_slug = asks[0].org_slug
    if any(ask.org_slug != org_slug for ask in asks):
        raise ValueError("a reservation batch holds the requests of one org")
    requests = [ask.request for ask in asks if ask.request is not None]

    @firestore.transactional
    def decide(transaction):
        # Reads first (a transaction reads everything before it writes).
        quota_ref = control.org_ref(db, org_slug)
        quota = None
        if any(counts_slots(ask.limits) for ask in asks if ask.request is not None):
            snapshot = quota_ref.get(transaction=transaction)
            quota = _Quota(snapshot.to_dict() if snapshot.exists else {})
        fps = {request.pipeline_logging_id: _fingerprint(request) for request in requests}
        existing = _existing_runs(db, transaction, org_slug, sorted(set(fps.values())))
        markers = _scheduled_runs(db, transaction, requests)
        rate: _RateBudget | None = None  # the org's shards, read when a request first needs them
        decisions, created = [], []
        for ask in asks:
            request, limits = ask.request, ask.limits
            if limits.requests_per_minute is not None:
                if rate is None:
                    rate = _RateBudget(transaction, db, org_slug, limits.requests_per_minute)
                wait = rate.take(ask.now)
                if wait is not None:
                    decisions.append(Reservation(RATE_LIMITED, retry_after=wait))
                    continue
            if request is None:
                decisions.append(Reservation(COUNTED))
                continue
            fp = fps[request.pipeline_logging_id]
            key = _marker_key(request)
            prior = existing.get(fp) or (markers.get(key) if key else None)
            if prior is not None:
                decisions.append(Reservation(DUPLICATE, prior["run_id"], prior["status"]))
                continue
            refused = quota.refusal(limits, ask.now) if counts_slots(limits) else None
            if refused:
                decisions.append(Reservation(refused))
                continue
            slot = counts_slots(limits)
            if slot:
                quota.take(ask.now)
            run = new_run_document(request, ask.now, slot=slot)
            # Its history rides along with the run's next change (the claim, usually): the request path does not
            # wait on BigQuery. Until then the run is read from Firestore (RunLog.get, list_for_org).
            run.update(history_behind=True, history_moves=[first_transition(run, "requested")])
            created.append(run)
            existing[fp] = {"run_id": request.pipeline_logging_id, "status": PENDING}
            if key:
                markers[key] = existing[fp]
            decisions.append(Reservation(ACCEPTED))
        # Writes.
        for ref, values in rate.writes() if rate else ():
            transaction.set(ref, values)
        if quota is not None and quota.changed:
            transaction.set(quota_ref, quota.values)
        for run in created:
            transaction.create(
                control.run_ref(db, org_slug, run["pipeline_logging_id"]), control.to_document(run)
            )
            transaction.set(
                control.inflight_ref(db, org_slug, run["request_fingerprint"]),
                {"run_id": run["pipeline_logging_id"], "created_at": run["created_at"]},
            )
            if run["trigger_by"] == SCHEDULER_TRIGGER:
                transaction.set(
                    control.scheduled_ref(db, org_slug, run["pipeline_id"], run["start_date"]),
                    {
                        "run_id": run["pipeline_logging_id"],
                        "pipeline_id": run["pipeline_id"],
                        "day": run["start_date"].isoformat(),
                        "expire_at": run["created_at"] + control.MARKER_RETENTION,
                    },
                )
        return decisions, created

    return control.transact(db, decide)


def _fingerprint(request: RunRequest) -> str:
    return fingerprint(request.org_slug, request.pipeline_id, request.start_date, request.end_date)


def _marker_key(request: RunRequest) -> tuple | None:
    if request.trigger_by != SCHEDULER_TRIGGER or request.start_date != request.end_date:
        return None
    return (request.pipeline_id, request.start_date)


def _existing_runs(db, transaction, org_slug: str, fps: list[str]) -> dict[str, dict]:
    """The in-flight run (id and status) of each fingerprint that has one."""
    if not fps:
        return {}
    refs = [control.inflight_ref(db, org_slug, fp) for fp in fps]
    entries = {
        snap.id: snap.get("run_id") for snap in db.get_all(refs, transaction=transaction) if snap.exists
    }
    statuses = _statuses(db, transaction, org_slug, list(entries.values()))
    return {
        fp: {"run_id": run_id, "status": statuses[run_id]}
        for fp, run_id in entries.items()
        if statuses.get(run_id) in IN_FLIGHT
    }


def _scheduled_runs(db, transaction, requests: list[RunRequest]) -> dict[tuple, dict]:
    """The scheduler's run of each (pipeline, day) asked for, if one is in flight or completed: a task
    delivered again (or after the run finished) is answered with that run instead of starting another."""
    keys = sorted({key for request in requests if (key := _marker_key(request))})
    if not keys:
        return {}
    org_slug = requests[0].org_slug
    refs = {control.scheduled_ref(db, org_slug, *key).id: key for key in keys}
    snapshots = db.get_all(
        [control.scheduled_ref(db, org_slug, *key) for key in keys], transaction=transaction
    )
    marked = {refs[snap.id]: snap.get("run_id") for snap in snapshots if snap.exists}
    statuses = _statuses(db, transaction, org_slug, list(marked.values()))
    return {
        key: {"run_id": run_id, "status": statuses[run_id]}
        for key, run_id in marked.items()
        if statuses.get(run_id) in (PENDING, RUNNING, COMPLETED)
    }


def _statuses(db, transaction, org_slug: str, run_ids: list[str]) -> dict[str, str]:
    if not run_ids:
        return {}
    refs = [control.run_ref(db, org_slug, run_id) for run_id in run_ids]
    return {snap.id: snap.get("status") for snap in db.get_all(refs, transaction=transaction) if snap.exists}


# --- the instance's batches ------------------------------------------------------------------------------------

# The instance's group commits, one per org it has seen lately (oldest first); idle ones beyond MAX_BATCHERS are
# dropped, so a long-lived instance serving many orgs keeps a bounded number.
_BATCHERS: OrderedDict[tuple, GroupCommit] = OrderedDict()
_BATCHERS_LOCK = threading.Lock()
MAX_BATCHERS = 1024


def _decide(warehouse: Warehouse, settings: Settings, asks: list[Ask]) -> list[Reservation]:
    return decide_org_batch(control.control_db(settings), asks)[0]


def _batcher(warehouse: Warehouse, settings: Settings, org_slug: str) -> GroupCommit:
    """The instance's group commit of one org's reservations (every waiting request of the org per batch)."""
    key = (id(warehouse), settings, org_slug)
    with _BATCHERS_LOCK:
        if key not in _BATCHERS:
            _BATCHERS[key] = GroupCommit(functools.partial(_decide, warehouse, settings), max_batch=MAX_BATCH)
            idle = [k for k, batcher in _BATCHERS.items() if k != key and batcher.idle]
            for old in idle[: max(0, len(_BATCHERS) - MAX_BATCHERS)]:
                del _BATCHERS[old]  # a caller holding it still finishes: only the registry forgets it
        _BATCHERS.move_to_end(key)
        return _BATCHERS[key]


def reserve_run(
    warehouse: Warehouse,
    settings: Settings,
    request: RunRequest,
    limits: PlanLimits,
    now: datetime | None = None,
    lock=None,
) -> Reservation:
    """Count the request, and create the run PENDING (with a concurrency slot where the plan counts them) only
    if every limit allows it.

    Concurrent reservations of one org in this instance are decided together, one transaction per batch, in
    arrival order. `lock` given, the request skips that grouping and is decided alone under it
    (`contextlib.nullcontext()` acts as a separate instance would): between instances, the transaction alone
    keeps the limits.
    """
    return _submit(warehouse, settings, Ask(request, limits, now or datetime.now(UTC)), lock)


def count_refused_request(
    warehouse: Warehouse, settings: Settings, org_slug: str, limits: PlanLimits, now: datetime | None = None
) -> Reservation:
    """Count a run request refused before its reservation (a bad body, an unknown pipeline, another org's path)
    against the org's rate, so a flood of bad requests is throttled like any other: COUNTED or RATE_LIMITED."""
    if limits.requests_per_minute is None:
        return Reservation(COUNTED)
    return _submit(warehouse, settings, Ask(None, limits, now or datetime.now(UTC), org_slug), None)


def _submit(warehouse: Warehouse, settings: Settings, ask: Ask, lock) -> Reservation:
    if lock is not None:
        with lock:
            return _decide(warehouse, settings, [ask])[0]
    # Unique keys: the group commit then takes every waiting request of the org into the next batch.
    return _batcher(warehouse, settings, ask.org_slug).submit(uuid.uuid4().hex, ask)


# --- re-opening a run (dead-letter replay) ----------------------------------------------------------------------

# What reopen_run decides: the run was made runnable (a slot taken: REOPENED; it already held one, or its plan
# takes none: REQUEUED), or why it was left alone.
REOPENED, REQUEUED = "REOPENED", "REQUEUED"


def reopen_run(
    warehouse: Warehouse, settings: Settings, org_slug: str, run_id: str, limits: PlanLimits, reason: str
) -> Reservation:
    """Make a FAILED or PENDING run PENDING again, in one transaction; the decision and the run's status before.

    A run that holds its slot keeps it (REQUEUED); one that released it takes one under the plan's concurrency
    limit, as a run request would (REOPENED), or is refused (CONCURRENCY_LIMIT_REACHED), so a slot is never
    taken twice nor leaked. The daily and monthly counts are not touched: it is the same run, counted once when
    it was accepted. COMPLETED, RUNNING, CANCELLED runs and runs with an identical run in flight are left alone
    (the decision names why). Attempts restart from 0.
    """
    from google.cloud import firestore

    db = control.control_db(settings)
    ref, quota_ref = control.run_ref(db, org_slug, run_id), control.org_ref(db, org_slug)

    @firestore.transactional
    def reopen(transaction):
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists:
            return Reservation("RUN_NOT_FOUND"), None
        run = control.from_document(snapshot.to_dict())
        prior = run["status"]
        left_alone = {COMPLETED: "ALREADY_COMPLETED", RUNNING: "IN_FLIGHT", "CANCELLED": "CANCELLED"}
        if prior in left_alone:
            return Reservation(left_alone[prior], prior_status=prior), None
        fp_ref = control.inflight_ref(db, org_slug, run["request_fingerprint"])
        index = fp_ref.get(transaction=transaction)
        holder = index.get("run_id") if index.exists else None
        if (
            holder
            and holder != run_id
            and _statuses(db, transaction, org_slug, [holder]).get(holder) in IN_FLIGHT
        ):
            return Reservation(DUPLICATE, holder, prior_status=prior), None
        now = datetime.now(UTC)
        slot = bool(run.get("slot_held"))
        decision = REQUEUED if slot else REOPENED
        if not slot and counts_slots(limits):
            snapshot = quota_ref.get(transaction=transaction)
            quota = _Quota(snapshot.to_dict() if snapshot.exists else {})
            running = quota.rolled(now)[0]
            if limits.concurrent_runs is not None and running >= limits.concurrent_runs:
                return Reservation(CONCURRENCY_LIMIT_REACHED, prior_status=prior), None
            transaction.set(quota_ref, {"running": running + 1, "updated_at": now}, merge=True)
            slot = True
        changes = {
            "status": PENDING,
            "slot_held": slot,
            "attempts": 0,
            "error_code": None,
            "error_message": None,
            "started_at": None,
            "completed_at": None,
            "expire_at": None,
            "updated_at": now,
            "version": run["version"] + 1,
            "last_reason": reason,
        }
        pending = run.get("history_moves") or []
        if pending or run.get("history_behind"):
            changes.update(history_behind=firestore.DELETE_FIELD, history_moves=firestore.DELETE_FIELD)
        transaction.set(fp_ref, {"run_id": run_id, "created_at": now})
        transaction.update(ref, changes)
        move = {
            "pipeline_logging_id": run_id,
            "org_slug": org_slug,
            "from_status": prior,
            "to_status": PENDING,
            "reason": reason,
            "at": now,
            "version": changes["version"],
        }
        after = {
            key: value for key, value in {**run, **changes}.items() if value is not firestore.DELETE_FIELD
        }
        return Reservation(decision, prior_status=prior), (after, [*pending, move])

    reservation, moved = control.transact(db, reopen)
    if moved:
        record_history(db, RunHistory(warehouse, settings), [moved], [])
    return reservation


# --- answers ----------------------------------------------------------------------------------------------------


def refusal(
    decision: str, limits: PlanLimits, now: datetime | None = None, retry_after: float | None = None
) -> ApiError:
    """The 429 for a refused reservation, with Retry-After saying when trying again can succeed."""
    now = now or datetime.now(UTC)
    if decision == RATE_LIMITED:
        wait = math.ceil(retry_after if retry_after is not None else RATE_WINDOW_SECONDS)
        what = f"{limits.requests_per_minute} run requests in any 60 seconds"
    elif decision == CONCURRENCY_LIMIT_REACHED:
        wait, what = CONCURRENCY_RETRY_AFTER_SECONDS, f"{limits.concurrent_runs} concurrent runs"
    elif decision == QUOTA_DAILY_EXCEEDED:
        wait, what = (
            _seconds_until(now, now.date() + timedelta(days=1)),
            f"{limits.daily_runs} runs per UTC day",
        )
    else:
        last = calendar.monthrange(now.year, now.month)[1]
        next_month = now.date().replace(day=last) + timedelta(days=1)
        wait, what = _seconds_until(now, next_month), f"{limits.monthly_runs} runs per UTC month"
    return ApiError(
        decision, f"The plan allows {what}; try again later.", headers={"Retry-After": str(max(1, wait))}
    )


def _seconds_until(now: datetime, day: date) -> int:
    return math.ceil((datetime(day.year, day.month, day.day, tzinfo=UTC) - now).total_seconds())
