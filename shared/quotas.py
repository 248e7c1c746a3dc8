"""Plan limits and the atomic run reservation: one transaction that counts, checks and creates the run."""

from __future__ import annotations

import calendar
import functools
import math
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from shared.errors import ApiError
from shared.runs import RunRequest, fingerprint, run_row_params
from shared.settings import Settings, central_table
from shared.warehouse import Warehouse

ACCEPTED, DUPLICATE = "ACCEPTED", "DUPLICATE"
UNLIMITED = -1  # how a null limit is passed to SQL (a typed NULL would need a parameter per type)
CONCURRENCY_RETRY_AFTER_SECONDS = 30
# Reservations of one org in one instance queue on a lock instead of racing each other in the warehouse: the
# transaction stays the guarantee (across instances), the lock only spares it from losing races it would retry.
_ORG_LOCKS = tuple(threading.Lock() for _ in range(64))


def _org_lock(org_slug: str) -> threading.Lock:
    return _ORG_LOCKS[zlib.crc32(org_slug.encode()) % len(_ORG_LOCKS)]


@dataclass(frozen=True)
class PlanLimits:
    """Limits of one plan; None means unlimited."""

    daily_runs: int | None
    monthly_runs: int | None
    concurrent_runs: int | None
    requests_per_minute: int | None


@functools.cache
def load_plans(config_dir: Path) -> dict[str, PlanLimits]:
    """configs/plans.yml, keyed by plan name."""
    raw = yaml.safe_load((Path(config_dir) / "plans.yml").read_text())
    return {name: PlanLimits(**limits) for name, limits in raw.items()}


@dataclass(frozen=True)
class Reservation:
    """What the reservation decided: ACCEPTED, DUPLICATE (of `existing_id`) or the limit that refused it."""

    decision: str
    existing_id: str | None = None
    existing_status: str | None = None


def _limit(value: int | None) -> int:
    return UNLIMITED if value is None else value


def _reservation_script(settings: Settings) -> str:
    quotas = central_table(settings, "org_usage_quotas")
    runs = central_table(settings, "org_meta_pipeline_runs")
    transitions = central_table(settings, "org_meta_state_transitions")
    return f"""
    DECLARE decision STRING;
    DECLARE existing_id STRING;
    BEGIN TRANSACTION;
    SET existing_id = (SELECT MAX(pipeline_logging_id) FROM `{runs}`
                       WHERE org_slug = @org AND request_fingerprint = @fp AND status IN ('PENDING', 'RUNNING'));
    SET decision = (SELECT CASE
        WHEN @rate_limit >= 0 AND IF(rate_window = @minute, rate_count, 0) >= @rate_limit THEN 'RATE_LIMITED'
        WHEN existing_id IS NOT NULL THEN 'DUPLICATE'
        WHEN @concurrent_limit >= 0 AND running >= @concurrent_limit THEN 'CONCURRENCY_LIMIT_REACHED'
        WHEN @daily_limit >= 0 AND IF(day = @today, daily_runs, 0) >= @daily_limit THEN 'QUOTA_DAILY_EXCEEDED'
        WHEN @monthly_limit >= 0 AND IF(month = @month, monthly_runs, 0) >= @monthly_limit
          THEN 'QUOTA_MONTHLY_EXCEEDED'
        ELSE 'ACCEPTED' END
      FROM `{quotas}` WHERE org_slug = @org);
    UPDATE `{quotas}` SET
        rate_count = IF(rate_window = @minute, rate_count, 0) + 1,
        rate_window = @minute,
        daily_runs = IF(decision = 'ACCEPTED', IF(day = @today, daily_runs, 0) + 1, daily_runs),
        day = IF(decision = 'ACCEPTED', @today, day),
        monthly_runs = IF(decision = 'ACCEPTED', IF(month = @month, monthly_runs, 0) + 1, monthly_runs),
        month = IF(decision = 'ACCEPTED', @month, month),
        running = IF(decision = 'ACCEPTED', running + 1, running),
        updated_at = @now
      WHERE org_slug = @org;
    INSERT INTO `{runs}` (pipeline_logging_id, org_slug, pipeline_id, provider, status, start_date, end_date,
        force_refresh, trigger_by, request_fingerprint, quota_day, slot_held, created_at, updated_at)
      SELECT @id, @org, @pipeline_id, @provider, 'PENDING', @start, @end, @force, @trigger_by, @fp, @today, TRUE,
        @now, @now
      FROM UNNEST([1]) WHERE decision = 'ACCEPTED';
    INSERT INTO `{transitions}` (pipeline_logging_id, org_slug, from_status, to_status, reason, at)
      SELECT @id, @org, NULL, 'PENDING', 'requested', @now FROM UNNEST([1]) WHERE decision = 'ACCEPTED';
    COMMIT TRANSACTION;
    SELECT decision AS decision, existing_id AS existing_id,
      (SELECT MAX(status) FROM `{runs}` WHERE pipeline_logging_id = existing_id) AS existing_status;
    """


def reserve_run(
    warehouse: Warehouse,
    settings: Settings,
    request: RunRequest,
    limits: PlanLimits,
    now: datetime | None = None,
    lock=None,
) -> Reservation:
    """Count the request, and create the run PENDING with a concurrency slot only if every limit allows it.

    `lock` defaults to the org's in-process lock; instances racing each other are kept honest by the transaction.
    """
    now = now or datetime.now(UTC)
    params = {
        **run_row_params(request, now),
        "fp": fingerprint(request.org_slug, request.pipeline_id, request.start_date, request.end_date),
        "today": now.date(),
        "month": now.date().replace(day=1),
        "minute": now.replace(second=0, microsecond=0),
        "rate_limit": _limit(limits.requests_per_minute),
        "concurrent_limit": _limit(limits.concurrent_runs),
        "daily_limit": _limit(limits.daily_runs),
        "monthly_limit": _limit(limits.monthly_runs),
    }
    with lock or _org_lock(request.org_slug):
        row = warehouse.query(_reservation_script(settings), params)[0]
        if row["decision"] is None:  # the org has no quota row yet (onboarded before quotas existed)
            ensure_quota_row(warehouse, settings, request.org_slug)
            row = warehouse.query(_reservation_script(settings), params)[0]
    return Reservation(row["decision"], row["existing_id"], row["existing_status"])


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
    warehouse: Warehouse, settings: Settings, run_id: str, org_slug: str, limits: PlanLimits, reason: str
) -> tuple[str, str | None]:
    """Make a FAILED or PENDING run PENDING again with a concurrency slot, in one transaction; (decision, prior).

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
    return row["decision"], row["prior_status"]


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
