"""The run log: run documents in Firestore (the live state, every change one transaction) and their history in
BigQuery (appended after each change, never updated)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from shared.platform.logs import log
from shared.platform.settings import Settings
from shared.runs import control
from shared.runs.history import RunHistory, public_run
from shared.runs.model import FAILED, PENDING, RUNNING, TERMINAL, RunRequest, fingerprint
from shared.warehouse.adapter import Warehouse

ERROR_MESSAGE_LIMIT = 1000


def new_run_document(
    request: RunRequest, now: datetime, *, status: str = PENDING, slot: bool = False
) -> dict:
    """The first version of a run's document."""
    return {
        **request.to_message(),
        "start_date": request.start_date,
        "end_date": request.end_date,
        "status": status,
        "request_fingerprint": fingerprint(
            request.org_slug, request.pipeline_id, request.start_date, request.end_date
        ),
        "message_id": None,
        "attempts": 0,
        "quota_day": now.date() if slot else None,
        "slot_held": slot,
        "rows_written": None,
        "error_code": None,
        "error_message": None,
        "created_at": now,
        "started_at": None,
        "completed_at": now if status in TERMINAL else None,
        "updated_at": now,
        "version": 1,
        "slices_total": None,
        "slices_done": None,
        "expire_at": now + control.RUN_RETENTION if status in TERMINAL else None,
        "last_reason": "requested" if status == PENDING else None,  # why the run is where it is
    }


def first_transition(run: dict, reason: str) -> dict:
    """The status change that created a run (from nothing to its first status)."""
    return _move_row(run, None, run["status"], reason, run["created_at"], 1)


def _move_row(run: dict, from_status, to_status, reason, at, version) -> dict:
    return {
        "pipeline_logging_id": run["pipeline_logging_id"],
        "org_slug": run["org_slug"],
        "from_status": from_status,
        "to_status": to_status,
        "reason": reason,
        "at": at,
        "version": version,
    }


class RunLog:
    """Reads and changes runs; every status change is conditional (from a given status), one Firestore
    transaction with the slot it releases, and appended to the history.

    Every method that names a run takes the org first, `(org_slug, run_id, ...)`: the org is the tenancy scope
    every read and write of a run goes through (a run's document lives under its org's).
    """

    def __init__(self, warehouse: Warehouse, settings: Settings):
        self.warehouse, self.settings = warehouse, settings
        self.db = control.control_db(settings)
        self.history = RunHistory(warehouse, settings)
        # Step rows of completed step attempts not written yet: they go with the run's next history append (its
        # status change, or a failed attempt's row) in one call, instead of one call per step.
        self._deferred_steps: list[dict] = []

    def new_request(
        self, org_slug: str, pipeline_id: str, provider: str, start: date, end: date, **kw
    ) -> RunRequest:
        """A run request with a fresh id."""
        return RunRequest(str(uuid.uuid4()), org_slug, pipeline_id, provider, start, end, **kw)

    # --- creating runs outside the reservation --------------------------------------------------------------

    def create(self, request: RunRequest) -> None:
        """Create a run PENDING without a quota slot (admin and test paths; the API reserves), indexed as in
        flight so an identical request finds it."""
        from google.cloud import firestore

        run = new_run_document(request, datetime.now(UTC))
        fp_ref = control.inflight_ref(self.db, request.org_slug, run["request_fingerprint"])

        @firestore.transactional
        def write(transaction):
            if not fp_ref.get(transaction=transaction).exists:
                transaction.set(
                    fp_ref, {"run_id": request.pipeline_logging_id, "created_at": run["created_at"]}
                )
            transaction.create(
                self._ref(request.org_slug, request.pipeline_logging_id), control.to_document(run)
            )

        control.transact(self.db, write)
        self._record(run, [first_transition(run, "requested")])

    def record_refusal(self, request: RunRequest, code: str, message: str) -> None:
        """Record a run refused before it could start (a scheduled run whose org lost its subscription or
        credential) as FAILED with a stable code, so the org sees why the day was not loaded; holds no slot."""
        run = new_run_document(request, datetime.now(UTC), status=FAILED)
        run.update(error_code=code, error_message=message[:ERROR_MESSAGE_LIMIT])
        self._ref(request.org_slug, request.pipeline_logging_id).create(control.to_document(run))
        self._record(run, [first_transition(run, code)])

    # --- status changes --------------------------------------------------------------------------------------

    def transition(
        self,
        org_slug: str,
        run_id: str,
        from_status: str,
        to_status: str,
        *,
        reason: str | None = None,
        refund: bool = False,
        **fields,
    ) -> bool:
        """Move a run from one status to another only if it is still in `from_status`; True if this call moved it.

        One transaction: the status change and, on a terminal status, the release of the run's concurrency slot
        (exactly once: the slot flag is cleared by the same write) and of its duplicate index entry. `refund`
        also gives back the daily and monthly counts of the day the run was counted (runs never queued).
        """
        if to_status in TERMINAL:
            # Step rows first: a reader that sees the run settled (in Firestore) finds every step row already.
            self.flush_steps(org_slug, run_id)
        moved = self._transact_move(org_slug, run_id, from_status, to_status, reason, refund, fields)
        if moved is None:
            return False
        run, moves = moved
        self._record(run, moves, self._take_deferred_steps(org_slug, run_id))
        return True

    def _transact_move(self, org_slug, run_id, from_status, to_status, reason, refund, fields):
        from google.cloud import firestore

        ref = self._ref(org_slug, run_id)

        @firestore.transactional
        def move(transaction):
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists or snapshot.get("status") != from_status:
                return None
            run = control.from_document(snapshot.to_dict())
            return move_in_transaction(transaction, self.db, run, to_status, reason, fields, refund=refund)

        return control.transact(self.db, move)

    def fail(
        self, org_slug: str, run_id: str, from_status: str, code: str, message: str, *, refund: bool = False
    ) -> bool:
        """Mark a run FAILED with a stable code and a message for the org."""
        return self.transition(
            org_slug,
            run_id,
            from_status,
            FAILED,
            reason=code,
            refund=refund,
            error_code=code,
            error_message=message[:ERROR_MESSAGE_LIMIT],
        )

    # --- reads ------------------------------------------------------------------------------------------------

    def document(self, org_slug: str, run_id: str) -> dict | None:
        """The run's live document (every field), or None: not this org's run, or settled and expired."""
        snapshot = self._ref(org_slug, run_id).get()
        return control.from_document(snapshot.to_dict()) if snapshot.exists else None

    def get(self, org_slug: str, run_id: str) -> dict | None:
        """What the org sees of its run: the live document, else (expired) its latest recorded version; None
        for a run of another org or no run at all."""
        run = self.document(org_slug, run_id) or self.history.latest(org_slug, run_id)
        return public_run(run) if run else None

    def list_for_org(
        self,
        org_slug: str,
        limit: int,
        *,
        status: str | None = None,
        pipeline_id: str | None = None,
        start: date | None = None,
        end: date | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[dict]:
        """The org's runs, newest first, filtered; `after` is the (created_at, id) of the last row already seen.

        The history's latest versions, with the live documents of the runs in flight (or whose history is still to
        be appended) in their place: a run accepted a moment ago is listed before its history reaches BigQuery.
        """
        filters = {"status": status, "pipeline_id": pipeline_id, "start": start, "end": end, "after": after}
        runs = {
            row["pipeline_logging_id"]: row for row in self.history.list_for_org(org_slug, limit, **filters)
        }
        for run in self._live(org_slug):
            if _matches(run, **filters):
                runs[run["pipeline_logging_id"]] = public_run(run)
            else:
                runs.pop(run["pipeline_logging_id"], None)  # its recorded version is out of date
        ordered = sorted(
            runs.values(), key=lambda r: (r["created_at"], r["pipeline_logging_id"]), reverse=True
        )
        return ordered[:limit]

    def _live(self, org_slug: str) -> list[dict]:
        """The org's run documents in flight or with history still to append (two single-field queries)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        runs = control.org_ref(self.db, org_slug).collection(control.RUNS)
        found = {}
        for query in (
            runs.where(filter=FieldFilter("status", "in", [PENDING, RUNNING])),
            runs.where(filter=FieldFilter("history_behind", "==", True)),
        ):
            for snapshot in query.stream():
                found[snapshot.id] = control.from_document(snapshot.to_dict())
        return list(found.values())

    def attempts(self, org_slug: str, run_id: str) -> int:
        """How many deliveries have claimed the run so far."""
        run = self.document(org_slug, run_id)
        return (run.get("attempts") or 0) if run else 0

    def status(self, org_slug: str, run_id: str) -> str | None:
        """The run's current status, or None if there is no such run for this org."""
        run = self.document(org_slug, run_id)
        if run is None:
            run = self.history.latest(org_slug, run_id)
        return run["status"] if run else None

    def step_logs(self, org_slug: str, run_id: str) -> list[dict]:
        """The run's step attempts, oldest first."""
        return [
            {key: value for key, value in row.items() if key != "step_logging_id"}
            for row in self.history.step_logs(org_slug, run_id)
        ]

    # --- step attempts ----------------------------------------------------------------------------------------

    def log_step(
        self,
        org_slug: str,
        run_id: str,
        *,
        step_id: str,
        ps_type: str,
        attempt: int,
        status: str,
        started_at: datetime,
        rows: int | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        defer: bool = False,
    ) -> None:
        """Record one step attempt. `defer` (a completed attempt) keeps the row for the run's next append: its
        status change or a later attempt's row; a crash before that loses only rows of work the re-run redoes."""
        self._deferred_steps.append(
            {
                "step_logging_id": str(uuid.uuid4()),
                "pipeline_logging_id": run_id,
                "org_slug": org_slug,
                "step_id": step_id,
                "ps_type": ps_type,
                "attempt": attempt,
                "status": status,
                "rows_written": rows,
                "error_code": error_code,
                "error_message": error_message[:ERROR_MESSAGE_LIMIT] if error_message else None,
                "started_at": started_at,
                "completed_at": datetime.now(UTC),
            }
        )
        if not defer:
            self.flush_steps(org_slug, run_id)

    def flush_steps(self, org_slug: str, run_id: str) -> None:
        """Append the run's deferred step rows now (a run left without a status change, e.g. cancelled)."""
        steps = self._take_deferred_steps(org_slug, run_id)
        if steps:
            self.history.try_append([], [], steps)

    def _take_deferred_steps(self, org_slug: str, run_id: str) -> list[dict]:
        def of_run(row: dict) -> bool:
            return row["org_slug"] == org_slug and row["pipeline_logging_id"] == run_id

        taken = [row for row in self._deferred_steps if of_run(row)]
        self._deferred_steps = [row for row in self._deferred_steps if not of_run(row)]
        return taken

    # --- history ----------------------------------------------------------------------------------------------

    def _record(self, run: dict, moves: list[dict], steps: list[dict] | None = None) -> None:
        """Append the run's new version and status change to the history; if BigQuery does not take them, flag
        the document so the reaper appends them later (the change itself stands: Firestore decided it)."""
        record_history(self.db, self.history, [(run, moves)], steps or [])

    def _ref(self, org_slug: str, run_id: str):
        return control.run_ref(self.db, org_slug, run_id)


def move_in_transaction(
    transaction, db, run: dict, to_status: str, reason: str | None, fields: dict, *, refund: bool = False
) -> tuple[dict, dict]:
    """Move `run` (its document as this transaction read it) to `to_status`: the reads it needs, then its writes
    (the run, and on a terminal status the slot it releases and its duplicate index entry). The caller may write
    more after it, never read. Returns the run as it now is and the status changes to append to the history:
    those the document held pending (taken from it in this write) and this one."""
    from google.cloud.firestore import DELETE_FIELD as DELETE

    org_slug, run_id = run["org_slug"], run["pipeline_logging_id"]
    now = datetime.now(UTC)
    changes = {
        "status": to_status,
        "updated_at": now,
        "version": run["version"] + 1,
        "last_reason": reason,
        **fields,
    }
    if to_status == RUNNING:
        changes.update(started_at=now, attempts=(run.get("attempts") or 0) + 1)
    quota_ref = control.org_ref(db, org_slug)
    fp_ref = control.inflight_ref(db, org_slug, run["request_fingerprint"])
    release = to_status in TERMINAL and run.get("slot_held")
    quota = quota_ref.get(transaction=transaction) if release else None
    index = fp_ref.get(transaction=transaction) if to_status in TERMINAL else None
    if to_status in TERMINAL:
        changes.update(completed_at=now, slot_held=False, expire_at=now + control.RUN_RETENTION)
    if quota is not None and quota.exists:
        transaction.update(quota_ref, release_changes(quota.to_dict(), run, refund, now))
    if index is not None and index.exists and index.get("run_id") == run_id:
        transaction.delete(fp_ref)
    # The history not appended yet (a new run's "requested", or what an outage held back) goes with this change.
    moves = [
        *(run.get("history_moves") or []),
        _move_row(run, run["status"], to_status, reason, now, changes["version"]),
    ]
    if run.get("history_behind") or run.get("history_moves"):
        changes.update(history_behind=DELETE, history_moves=DELETE)
    transaction.update(control.run_ref(db, org_slug, run_id), control.to_document(changes))
    after = {key: value for key, value in {**run, **changes}.items() if value is not DELETE}
    return after, moves


def _matches(run: dict, *, status, pipeline_id, start, end, after) -> bool:
    """Whether a run passes the list filters (as RunHistory.list_for_org's SQL applies them)."""
    if (status and run["status"] != status) or (pipeline_id and run["pipeline_id"] != pipeline_id):
        return False
    if (start and run["end_date"] < start) or (end and run["start_date"] > end):
        return False
    return not after or (run["created_at"], run["pipeline_logging_id"]) < after


def release_changes(quota: dict, run: dict, refund: bool, now: datetime) -> dict:
    """The org document's changes when `run` gives back its concurrency slot (and with `refund` its counts)."""
    changes = {"running": max((quota.get("running") or 0) - 1, 0), "updated_at": now}
    day = run.get("quota_day")
    if refund and day is not None:
        if quota.get("day") == day.isoformat():
            changes["daily_runs"] = max((quota.get("daily_runs") or 0) - 1, 0)
        if quota.get("month") == day.replace(day=1).isoformat():
            changes["monthly_runs"] = max((quota.get("monthly_runs") or 0) - 1, 0)
    return changes


def record_history(db, history: RunHistory, runs: list[tuple[dict, list[dict]]], steps: list[dict]) -> bool:
    """Append run versions with their status changes (and step rows) in one call per table; on an outage,
    flag each run's document `history_behind` with what is missing, for `resync_history` to append later."""
    versions = [run for run, _ in runs]
    moves = [move for _, run_moves in runs for move in run_moves]
    if history.try_append(versions, moves, steps):
        return True
    from google.cloud import firestore

    for run, run_moves in runs:
        try:
            control.run_ref(db, run["org_slug"], run["pipeline_logging_id"]).update(
                {"history_behind": True, "history_moves": firestore.ArrayUnion(run_moves)}
            )
        except Exception as exc:  # noqa: BLE001 - the run itself moved; only its history lags
            log("ERROR", f"could not flag a run's history as behind: {exc!r}", **_ids(run))
    return False


def _ids(run: dict) -> dict:
    return {"org_slug": run["org_slug"], "pipeline_logging_id": run["pipeline_logging_id"]}
