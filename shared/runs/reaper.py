"""The reaper: settle runs stuck past their timeout (crashed workers, lost messages), recount slots, and bring
the run history level where an outage kept it behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.platform.logs import log
from shared.platform.settings import Settings
from shared.runs import control
from shared.runs.history import RunHistory
from shared.runs.model import IN_FLIGHT, PENDING, RUNNING
from shared.runs.run_log import RunLog
from shared.warehouse.adapter import Warehouse
from shared.worker.pipelines import load_pipelines

GRACE_SECONDS = 120  # beyond the pipeline's own timeout, so a run finishing right now is not reaped
# A PENDING run waits for Pub/Sub (redeliveries back off up to 600 s); past this it was lost.
PENDING_LIMIT_SECONDS = 3600
DEFAULT_TIMEOUT_SECONDS = 900
PAGE = 500  # documents per query page


def _stuck(run: dict, timeouts: dict[str, float], now: datetime) -> bool:
    timeout = timeouts.get(run["pipeline_id"], DEFAULT_TIMEOUT_SECONDS)
    if run["status"] == RUNNING:
        # A fanned-out run is alive while its slices progress (each finished slice touches the run).
        since = run["updated_at"] if run.get("slices_total") else (run["started_at"] or run["updated_at"])
        return since + timedelta(seconds=timeout + GRACE_SECONDS) < now
    return run["updated_at"] + timedelta(seconds=max(PENDING_LIMIT_SECONDS, timeout)) < now


def _in_flight_before(db, oldest: datetime):
    """Every org's in-flight runs not updated since `oldest` (one collection-group query per status; the
    composite index (status, updated_at) of terraform/modules/firestore serves it)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    for status in IN_FLIGHT:
        query = (
            db.collection_group(control.RUNS)
            .where(filter=FieldFilter("status", "==", status))
            .where(filter=FieldFilter("updated_at", "<", oldest))
        )
        for snapshot in query.stream():
            yield control.from_document(snapshot.to_dict())


def reap_stuck_runs(warehouse: Warehouse, settings: Settings, now: datetime | None = None) -> dict:
    """FAIL every run stuck past its timeout (releasing its slot), recount every org's held slots, and append
    the history the last outage held back."""
    now = now or datetime.now(UTC)
    run_log = RunLog(warehouse, settings)
    timeouts = {pid: config.timeout_seconds for pid, config in load_pipelines(settings.config_dir).items()}
    oldest = now - timedelta(seconds=min([*timeouts.values(), DEFAULT_TIMEOUT_SECONDS]))
    reaped = []
    for run in [r for r in _in_flight_before(run_log.db, oldest) if _stuck(r, timeouts, now)]:
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
        "quotas_reconciled": recount_slots(run_log.db),
        "history_resynced": resync_history(run_log.db, run_log.history),
    }


def recount_slots(db) -> int:
    """Set each org's `running` to the slots its in-flight runs hold; returns how many orgs were off.

    Only orgs whose document counts a slot are looked at (a single-field query): an org at 0 cannot hold a
    slot its document does not count, since taking one and counting it are one transaction.
    """
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    fixed = 0
    for org in db.collection(control.ORGS).where(filter=FieldFilter("running", ">", 0)).stream():
        runs = org.reference.collection(control.RUNS).where(filter=FieldFilter("slot_held", "==", True))
        held = sum(1 for run in runs.stream() if run.get("status") in (PENDING, RUNNING))

        @firestore.transactional
        def correct(transaction, ref=org.reference, held=held):
            snapshot = ref.get(transaction=transaction)
            if snapshot.exists and snapshot.get("running") != held:
                transaction.update(ref, {"running": held, "updated_at": datetime.now(UTC)})
                return True
            return False

        if control.transact(db, correct):
            fixed += 1
            log("WARNING", f"recounted an org's concurrency slots to {held}", org_slug=org.id)
    return fixed


def resync_history(db, history: RunHistory) -> int:
    """Append the versions and status changes of runs whose history an outage held back (insert ids make a
    row sent twice one row); clear the flag of each run brought level. Returns how many."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = db.collection_group(control.RUNS).where(filter=FieldFilter("history_behind", "==", True))
    synced = 0
    for snapshot in query.limit(PAGE).stream():
        run = control.from_document(snapshot.to_dict())
        moves = run.get("history_moves") or []
        if not history.try_append([run], moves, []):
            break  # still out: the next reap tries again
        snapshot.reference.update(
            {"history_behind": firestore.DELETE_FIELD, "history_moves": firestore.DELETE_FIELD}
        )
        synced += 1
    return synced
