"""The set-based reservation transaction: many run requests (at most one per org) decided in one script."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.platform.settings import Settings, central_table
from shared.runs.model import RunRequest, fingerprint
from shared.warehouse.adapter import Warehouse


@dataclass(frozen=True)
class BatchedRequest:
    """One request of a batch: the run asked for, its clock, and its plan's limits (-1 for unlimited)."""

    request: RunRequest
    now: datetime
    rate_limit: int
    concurrent_limit: int
    daily_limit: int
    monthly_limit: int


def batch_parameters(items: list[BatchedRequest]) -> dict[str, list]:
    """The batch as parallel scalar arrays, one element per request, joined in SQL by their offset.

    Array parameters cannot hold NULL elements in BigQuery, so an absent trigger_by travels as a flag.
    """
    requests = [item.request for item in items]
    return {
        "ids": [r.pipeline_logging_id for r in requests],
        "orgs": [r.org_slug for r in requests],
        "fps": [fingerprint(r.org_slug, r.pipeline_id, r.start_date, r.end_date) for r in requests],
        "pipeline_ids": [r.pipeline_id for r in requests],
        "providers": [r.provider for r in requests],
        "starts": [r.start_date for r in requests],
        "ends": [r.end_date for r in requests],
        "forces": [r.force_refresh for r in requests],
        "trigger_bys": [r.trigger_by or "" for r in requests],
        "has_trigger_bys": [r.trigger_by is not None for r in requests],
        "nows": [item.now for item in items],
        "todays": [item.now.date() for item in items],
        "months": [item.now.date().replace(day=1) for item in items],
        "minutes": [item.now.replace(second=0, microsecond=0) for item in items],
        "rate_limits": [item.rate_limit for item in items],
        "concurrent_limits": [item.concurrent_limit for item in items],
        "daily_limits": [item.daily_limit for item in items],
        "monthly_limits": [item.monthly_limit for item in items],
    }


def batch_script(settings: Settings) -> str:
    """The reservation of every request of the batch in one transaction; returns one row per request, in order.

    Each request is decided as the single-request rules would decide it alone (the batch holds at most one per
    org, and orgs share nothing): RATE_LIMITED, DUPLICATE, CONCURRENCY_LIMIT_REACHED, QUOTA_DAILY_EXCEEDED,
    QUOTA_MONTHLY_EXCEEDED, else ACCEPTED; NULL when the org has no quota row (nothing is written for it).
    """
    quotas = central_table(settings, "org_usage_quotas")
    runs = central_table(settings, "org_meta_pipeline_runs")
    transitions = central_table(settings, "org_meta_state_transitions")
    return f"""
    BEGIN TRANSACTION;
    CREATE TEMP TABLE batch_requests AS
      SELECT i, id, @orgs[OFFSET(i)] AS org, @fps[OFFSET(i)] AS fp, @pipeline_ids[OFFSET(i)] AS pipeline_id,
        @providers[OFFSET(i)] AS provider, @starts[OFFSET(i)] AS start_date, @ends[OFFSET(i)] AS end_date,
        @forces[OFFSET(i)] AS force_refresh,
        IF(@has_trigger_bys[OFFSET(i)], @trigger_bys[OFFSET(i)], NULL) AS trigger_by,
        @nows[OFFSET(i)] AS now, @todays[OFFSET(i)] AS today, @months[OFFSET(i)] AS month,
        @minutes[OFFSET(i)] AS minute, @rate_limits[OFFSET(i)] AS rate_limit,
        @concurrent_limits[OFFSET(i)] AS concurrent_limit, @daily_limits[OFFSET(i)] AS daily_limit,
        @monthly_limits[OFFSET(i)] AS monthly_limit
      FROM UNNEST(@ids) AS id WITH OFFSET i;
    -- Decided once, before any write: every later statement reads these decisions, not the changed tables.
    CREATE TEMP TABLE batch_decisions AS
      SELECT b.*, e.existing_id, CASE
          WHEN q.org_slug IS NULL THEN NULL
          WHEN b.rate_limit >= 0 AND IF(q.rate_window = b.minute, q.rate_count, 0) >= b.rate_limit
            THEN 'RATE_LIMITED'
          WHEN e.existing_id IS NOT NULL THEN 'DUPLICATE'
          WHEN b.concurrent_limit >= 0 AND q.running >= b.concurrent_limit THEN 'CONCURRENCY_LIMIT_REACHED'
          WHEN b.daily_limit >= 0 AND IF(q.day = b.today, q.daily_runs, 0) >= b.daily_limit
            THEN 'QUOTA_DAILY_EXCEEDED'
          WHEN b.monthly_limit >= 0 AND IF(q.month = b.month, q.monthly_runs, 0) >= b.monthly_limit
            THEN 'QUOTA_MONTHLY_EXCEEDED'
          ELSE 'ACCEPTED' END AS decision
      FROM batch_requests b
      LEFT JOIN `{quotas}` q ON q.org_slug = b.org
      LEFT JOIN (
        SELECT org_slug, request_fingerprint, MAX(pipeline_logging_id) AS existing_id FROM `{runs}`
        WHERE org_slug IN UNNEST(@orgs) AND request_fingerprint IN UNNEST(@fps)
          AND status IN ('PENDING', 'RUNNING')
        GROUP BY org_slug, request_fingerprint
      ) e ON e.org_slug = b.org AND e.request_fingerprint = b.fp;
    -- Every request is counted against the rate, accepted or refused.
    UPDATE `{quotas}` q SET
        rate_count = IF(q.rate_window = d.minute, q.rate_count, 0) + 1,
        rate_window = d.minute,
        daily_runs = IF(d.decision = 'ACCEPTED', IF(q.day = d.today, q.daily_runs, 0) + 1, q.daily_runs),
        day = IF(d.decision = 'ACCEPTED', d.today, q.day),
        monthly_runs = IF(d.decision = 'ACCEPTED', IF(q.month = d.month, q.monthly_runs, 0) + 1, q.monthly_runs),
        month = IF(d.decision = 'ACCEPTED', d.month, q.month),
        running = IF(d.decision = 'ACCEPTED', q.running + 1, q.running),
        updated_at = d.now
      FROM batch_decisions d WHERE q.org_slug = d.org;
    INSERT INTO `{runs}` (pipeline_logging_id, org_slug, pipeline_id, provider, status, start_date, end_date,
        force_refresh, trigger_by, request_fingerprint, quota_day, slot_held, created_at, updated_at)
      SELECT id, org, pipeline_id, provider, 'PENDING', start_date, end_date, force_refresh, trigger_by, fp, today,
        TRUE, now, now
      FROM batch_decisions WHERE decision = 'ACCEPTED';
    INSERT INTO `{transitions}` (pipeline_logging_id, org_slug, from_status, to_status, reason, at)
      SELECT id, org, NULL, 'PENDING', 'requested', now FROM batch_decisions WHERE decision = 'ACCEPTED';
    COMMIT TRANSACTION;
    SELECT d.i AS i, d.decision AS decision, d.existing_id AS existing_id, s.existing_status AS existing_status
      FROM batch_decisions d
      LEFT JOIN (
        SELECT pipeline_logging_id, MAX(status) AS existing_status FROM `{runs}`
        WHERE pipeline_logging_id IN (SELECT existing_id FROM batch_decisions WHERE existing_id IS NOT NULL)
        GROUP BY pipeline_logging_id
      ) s ON s.pipeline_logging_id = d.existing_id
      ORDER BY d.i;
    """


def decide_batch(warehouse: Warehouse, settings: Settings, items: list[BatchedRequest]) -> list[dict]:
    """Run the batch transaction (one round trip); one row (decision, existing_id, existing_status) per item."""
    orgs = [item.request.org_slug for item in items]
    if len(set(orgs)) != len(orgs):  # two requests of one org must be decided one after the other
        raise ValueError("a reservation batch holds at most one request per org")
    rows = warehouse.query(batch_script(settings), batch_parameters(items))
    if [row["i"] for row in rows] != list(range(len(items))):
        raise RuntimeError(f"the reservation batch answered {len(rows)} rows for {len(items)} requests")
    return rows
