"""Plan limits and the atomic run reservation: a transaction that counts, checks and creates runs."""

from __future__ import annotations

import calendar
import functools
import math
import threading
import weakref
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.platform.errors import ApiError
from shared.platform.settings import Settings, central_table
from shared.runs.group_commit import GroupCommit
from shared.runs.model import RunRequest
from shared.runs.reservation_batch import BatchedRequest, decide_batch
from shared.tenancy.subscriptions import PlanLimits
from shared.warehouse.adapter import Warehouse

ACCEPTED, DUPLICATE = "ACCEPTED", "DUPLICATE"
UNLIMITED = -1  # how a null limit is passed to SQL (a typed NULL would need a parameter per type)
CONCURRENCY_RETRY_AFTER_SECONDS = 30
# Re-openings of one org in one instance queue on a lock instead of racing each other in the warehouse: the
# transaction stays the guarantee (across instances), the lock only spares it from losing races it would retry.
_ORG_LOCKS = tuple(threading.Lock() for _ in range(64))


def _org_lock(org_slug: str) -> threading.Lock:
    return _ORG_LOCKS[zlib.crc32(org_slug.encode()) % len(_ORG_LOCKS)]


@dataclass(frozen=True)
class Reservation:
    """What the reservation decided: ACCEPTED, DUPLICATE (of `existing_id`) or the limit that refused it; for a
    re-opened run (`reopen_run`), REOPENED, REQUEUED or why it was left alone, and the run's `prior_status`."""

    decision: str
    existing_id: str | None = None
    existing_status: str | None = None
    prior_status: str | None = None


def _limit(value: int | None) -> int:
    return UNLIMITED if value is None else value


def batched_request(request: RunRequest, limits: PlanLimits, now: datetime) -> BatchedRequest:
    """The request as one item of a reservation batch, its limits encoded for SQL."""
    return BatchedRequest(
        request,
        now,
        rate_limit=_limit(limits.requests_per_minute),
        concurrent_limit=_limit(limits.concurrent_runs),
        daily_limit=_limit(limits.daily_runs),
        monthly_limit=_limit(limits.monthly_runs),
    )


def reserve_batch(warehouse: Warehouse, settings: Settings, items: list[BatchedRequest]) -> list[Reservation]:
    """Decide a batch in one transaction; an org without a quota row yet gets one, and its request a second try."""
    rows = decide_batch(warehouse, settings, items)
    missing = [index for index, row in enumerate(rows) if row["decision"] is None]
    if missing:  # orgs onboarded before quotas existed; nothing was written for them in the first try
        for index in missing:
            ensure_quota_row(warehouse, settings, items[index].request.org_slug)
        for index, row in zip(missing, decide_batch(warehouse, settings, [items[i] for i in missing])):
            rows[index] = row
    return [Reservation(row["decision"], row["existing_id"], row["existing_status"]) for row in rows]


# One group commit per (warehouse, settings) in this process, so reservations of different orgs share
# transactions. Weak keys, and a proxy in the batch function, so the registry keeps no warehouse alive (a
# batch's leader holds its own reference to it while the batch runs).
_BATCHERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_BATCHERS_LOCK = threading.Lock()


def reservation_batcher(warehouse: Warehouse, settings: Settings) -> GroupCommit:
    """The process's group commit for reservations through this warehouse and settings."""
    with _BATCHERS_LOCK:
        by_settings = _BATCHERS.setdefault(warehouse, {})
        if settings not in by_settings:
            by_settings[settings] = GroupCommit(
                functools.partial(reserve_batch, weakref.proxy(warehouse), settings)
            )
        return by_settings[settings]


def reserve_run(
    warehouse: Warehouse,
    settings: Settings,
    request: RunRequest,
    limits: PlanLimits,
    now: datetime | None = None,
    lock=None,
) -> Reservation:
    """Count the request, and create the run PENDING with a concurrency slot only if every limit allows it.

    Concurrent reservations in this process are decided together, one transaction per batch of at most one
    request per org (an org's requests are decided in arrival order). `lock` given, the request skips that
    grouping and runs alone under it (`contextlib.nullcontext()` acts as a separate instance would): between
    instances, the transaction alone keeps the limits.
    """
    item = batched_request(request, limits, now or datetime.now(UTC))
    if lock is not None:
        with lock:
            return reserve_batch(warehouse, settings, [item])[0]
    return reservation_batcher(warehouse, settings).submit(request.org_slug, item)


# What reopen_run decides: the run was made runnable (a slot taken: REOPENED; it already held one: REQUEUED), or
# why it was left alone.
REOPENED, REQUEUED = "REOPENED", "REQUEUED"


def _reopen_script(settings: Settings) -> str:
    quotas = central_table(settings, "org_usage_quotas")
    runs = central_table(settings, "org_meta_pipeline_runs")
    transitions = central_table(settings, "org_meta_state_transitions")
    return f"""
    DECLARE prior STRING;
    DECLARE holds INT64;
    DECLARE decision STRING;
    BEGIN TRANSACTION;
    SET prior = (SELECT MAX(status) FROM `{runs}` WHERE pipeline_logging_id = @id AND org_slug = @org);
    SET holds = (SELECT COUNT(*) FROM `{runs}` WHERE pipeline_logging_id = @id AND org_slug = @org AND slot_held);
    SET decision = CASE
      WHEN prior IS NULL THEN 'RUN_NOT_FOUND'
      WHEN prior = 'COMPLETED' THEN 'ALREADY_COMPLETED'
      WHEN prior = 'RUNNING' THEN 'IN_FLIGHT'
      WHEN prior = 'CANCELLED' THEN 'CANCELLED'
      WHEN holds > 0 THEN 'REQUEUED'
      WHEN (SELECT COUNT(*) FROM `{runs}` WHERE org_slug = @org AND pipeline_logging_id != @id
            AND status IN ('PENDING', 'RUNNING') AND request_fingerprint =
              (SELECT MAX(request_fingerprint) FROM `{runs}` WHERE pipeline_logging_id = @id)) > 0
        THEN 'DUPLICATE'
      WHEN @concurrent_limit >= 0
        AND COALESCE((SELECT MAX(running) FROM `{quotas}` WHERE org_slug = @org), 0) >= @concurrent_limit
        THEN 'CONCURRENCY_LIMIT_REACHED'
      ELSE 'REOPENED' END;
    UPDATE `{quotas}` SET running = running + 1, updated_at = @now
      WHERE org_slug = @org AND decision = 'REOPENED';
    UPDATE `{runs}` SET status = 'PENDING', slot_held = TRUE, attempts = 0, error_code = NULL,
        error_message = NULL, started_at = NULL, completed_at = NULL, updated_at = @now, last_transition_id = @token
      WHERE pipeline_logging_id = @id AND org_slug = @org AND decision IN ('REOPENED', 'REQUEUED');
    INSERT INTO `{transitions}` (pipeline_logging_id, org_slug, from_status, to_status, reason, at)
      SELECT @id, @org, prior, 'PENDING', @reason, @now FROM UNNEST([1])
      WHERE decision IN ('REOPENED', 'REQUEUED');
    COMMIT TRANSACTION;
    SELECT decision AS decision, prior AS prior_status;
    """


def reopen_run(
    warehouse: Warehouse, settings: Settings, org_slug: str, run_id: str, limits: PlanLimits, reason: str
) -> Reservation:
    """Make a FAILED or PENDING run PENDING again with a concurrency slot, in one transaction; the decision and
    the run's status before (`prior_status`).

    A run that holds its slot keeps it (REQUEUED); one that released it takes one under the plan's concurrency
    limit, as a run request would, in the same transaction on the org's quota row (REOPENED), or is refused
    (CONCURRENCY_LIMIT_REACHED), so a slot is never taken twice nor leaked. The daily and monthly counts are not
    touched: it is the same run, counted once when it was accepted. COMPLETED, RUNNING, CANCELLED runs and runs
    with an identical run in flight are left alone (the decision names why). Attempts restart from 0.
    """
    import uuid

    params = {
        "id": run_id,
        "org": org_slug,
        "now": datetime.now(UTC),
        "token": str(uuid.uuid4()),
        "reason": reason,
        "concurrent_limit": _limit(limits.concurrent_runs),
    }
    with _org_lock(org_slug):
        row = warehouse.query(_reopen_script(settings), params)[0]
    return Reservation(row["decision"], prior_status=row["prior_status"])


def ensure_quota_row(warehouse: Warehouse, settings: Settings, org_slug: str) -> None:
    """Create the org's zeroed quota row if it has none (idempotent, race-safe through MERGE)."""
    warehouse.execute(
        f"""
        MERGE `{central_table(settings, "org_usage_quotas")}` AS q
        USING (SELECT @org AS org_slug) AS s ON q.org_slug = s.org_slug
        WHEN NOT MATCHED THEN INSERT (org_slug, day, daily_runs, month, monthly_runs, running, rate_window,
          rate_count, updated_at) VALUES (@org, NULL, 0, NULL, 0, 0, NULL, 0, @now)
        """,
        {"org": org_slug, "now": datetime.now(UTC)},
    )


def refusal(decision: str, limits: PlanLimits, now: datetime | None = None) -> ApiError:
    """The 429 for a refused reservation, with Retry-After saying when trying again can succeed."""
    now = now or datetime.now(UTC)
    if decision == "RATE_LIMITED":
        wait, what = 60 - now.second, f"{limits.requests_per_minute} run requests per minute"
    elif decision == "CONCURRENCY_LIMIT_REACHED":
        wait, what = CONCURRENCY_RETRY_AFTER_SECONDS, f"{limits.concurrent_runs} concurrent runs"
    elif decision == "QUOTA_DAILY_EXCEEDED":
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
