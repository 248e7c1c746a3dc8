"""The reaper: settle runs stuck past their timeout (crashed workers, lost messages) and recount slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.platform.logs import log
from shared.platform.settings import Settings
from shared.runs.model import PENDING, RUNNING
from shared.runs.run_log import RunLog
from shared.warehouse.adapter import Warehouse
from shared.worker.pipelines import load_pipelines

GRACE_SECONDS = 120  # beyond the pipeline's own timeout, so a run finishing right now is not reaped
# A PENDING run waits for Pub/Sub (redeliveries back off up to 600 s); past this it was lost.
PENDING_LIMIT_SECONDS = 3600
DEFAULT_TIMEOUT_SECONDS = 900


def _stuck(run: dict, timeouts: dict[str, float], now: datetime) -> bool:
    timeout = timeouts.get(run["pipeline_id"], DEFAULT_TIMEOUT_SECONDS)
    if run["status"] == RUNNING:
        return (run["started_at"] or run["updated_at"]) + timedelta(seconds=timeout + GRACE_SECONDS) < now
    return run["updated_at"] + timedelta(seconds=max(PENDING_LIMIT_SECONDS, timeout)) < now


def reap_stuck_runs(warehouse: Warehouse, settings: Settings, now: datetime | None = None) -> dict:
    """FAIL every run stuck past its timeout (releasing its slot), then recount every org's held slots."""
    now = now or datetime.now(UTC)
    run_log = RunLog(warehouse, settings)
    timeouts = {pid: config.timeout_seconds for pid, config in load_pipelines(settings.config_dir).items()}
    oldest = now - timedelta(seconds=min([*timeouts.values(), DEFAULT_TIMEOUT_SECONDS]))
    candidates = warehouse.query(
        f"SELECT pipeline_logging_id, org_slug, pipeline_id, status, started_at, updated_at FROM `{run_log.runs}` "
        "WHERE status IN ('PENDING', 'RUNNING') AND updated_at < @oldest",
        {"oldest": oldest},
    )
    reaped = []
    for run in (r for r in candidates if _stuck(r, timeouts, now)):
        message = f"The run did not finish within its time limit (stuck {run['status']}); start it again."
        if run_log.fail(run["org_slug"], run["pipeline_logging_id"], run["status"], "RUN_TIMEOUT", message):
            reaped.append(run["pipeline_logging_id"])
            log(
                "WARNING",
                "reaped a stuck run",
                org_slug=run["org_slug"],
                pipeline_logging_id=run["pipeline_logging_id"],
                error_code="RUN_TIMEOUT",
            )
    return {
        "reaped": len(reaped),
        "pipeline_logging_ids": reaped,
        "quotas_reconciled": recount_slots(run_log),
    }


def recount_slots(run_log: RunLog) -> int:
    """Set each org's `running` to the slots its in-flight runs hold; returns how many orgs were off."""
    return run_log.warehouse.execute(
        f"""
        UPDATE `{run_log.quotas}` AS q SET running = c.held
        FROM (SELECT q2.org_slug, COUNT(r.pipeline_logging_id) AS held
              FROM `{run_log.quotas}` AS q2
              LEFT JOIN `{run_log.runs}` AS r
                ON r.org_slug = q2.org_slug AND r.slot_held AND r.status IN ('{PENDING}', '{RUNNING}')
              GROUP BY q2.org_slug) AS c
        WHERE q.org_slug = c.org_slug AND q.running != c.held
        """
    )
