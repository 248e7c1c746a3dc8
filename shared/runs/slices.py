"""Slices of a fanned-out run in Firestore: created with the run's claim, each claimed under a lease by one delivery,
and the run settled by the transaction that finishes its last slice (or fails one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.runs import control
from shared.runs.model import COMPLETED, FAILED, PENDING, RUNNING, SliceRef
from shared.runs.run_log import ERROR_MESSAGE_LIMIT, move_in_transaction

SPLIT = "SPLIT"  # a slice that ran out of time and was replaced by its two halves
LEASE_GRACE_SECONDS = 60  # beyond the delivery bound: a lease outlives the delivery that holds it


@dataclass(frozen=True)
class FanOut:
    """What the fan-out transaction decided: the slices to publish (all of them when just created, the ones not
    published yet when a delivery of the run comes again), or none for a run already settled or claimed."""

    slices: list[SliceRef]
    run: dict | None = None  # the run as it now is, when this call claimed it
    moves: list[dict] | None = None  # its status changes to append to the history


def _slice_document(ref: SliceRef, now: datetime) -> dict:
    return {
        "index": ref.index,
        "start_date": ref.start_date.isoformat(),
        "end_date": ref.end_date.isoformat(),
        "status": PENDING,
        "attempts": 0,
        "lease_until": None,
        "rows_written": None,
        "error_code": None,
        "created_at": now,
        "updated_at": now,
        "expire_at": now + control.RUN_RETENTION,
    }


def _ref_of(document: dict) -> SliceRef:
    return SliceRef(
        document["index"],
        date.fromisoformat(document["start_date"]),
        date.fromisoformat(document["end_date"]),
    )


def windows(first: date, last: date, days: int) -> list[tuple[date, date]]:
    """[first, last] cut into consecutive windows of at most `days` days."""
    cuts, start = [], first
    while start <= last:
        end = min(start + timedelta(days=days - 1), last)
        cuts.append((start, end))
        start = end + timedelta(days=1)
    return cuts


def halves(ref: SliceRef) -> list[tuple[date, date]]:
    """A slice's days in two (the first half takes the middle day)."""
    middle = ref.start_date + timedelta(days=(ref.days - 1) // 2)
    return [(ref.start_date, middle), (middle + timedelta(days=1), ref.end_date)]


def fan_out(db, org_slug: str, run_id: str, cuts: list[tuple[date, date]], message_id: str | None) -> FanOut:
    """Claim a PENDING run and create its slices in one transaction (the run becomes RUNNING, `slices_total` set).
    A run already fanned out whose slices were not all published gives those back to publish again."""
    from google.cloud import firestore

    ref = control.run_ref(db, org_slug, run_id)

    @firestore.transactional
    def claim(transaction):
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists:
            return FanOut([])
        run = control.from_document(snapshot.to_dict())
        if run["status"] == RUNNING and run.get("slices_total") and not run.get("slices_published"):
            query = ref.collection(control.SLICES).where("status", "==", PENDING)
            return FanOut([_ref_of(s.to_dict()) for s in transaction.get(query)])
        if run["status"] != PENDING:
            return FanOut([])
        now = datetime.now(UTC)
        slices = [SliceRef(i, start, end) for i, (start, end) in enumerate(cuts)]
        fields = {
            "message_id": message_id or "",
            "slices_total": len(slices),
            "slices_done": 0,
            "slices_published": False,
            "rows_written": 0,
        }
        reason = f"claimed; fanned out into {len(slices)} slices"
        after, moves = move_in_transaction(transaction, db, run, RUNNING, reason, fields)
        for piece in slices:
            transaction.create(
                control.slice_ref(db, org_slug, run_id, piece.index), _slice_document(piece, now)
            )
        return FanOut(slices, after, moves)

    return control.transact(db, claim)


def mark_published(db, org_slug: str, run_id: str) -> None:
    """Record that every slice of the run was published (a later delivery of the run then only acknowledges)."""
    control.run_ref(db, org_slug, run_id).update({"slices_published": True})


def claim_slice(db, org_slug: str, run_id: str, index: int, lease_seconds: float) -> tuple[str, dict | None]:
    """Take the slice for this delivery: "claimed" (PENDING, or RUNNING under a lease that ran out: its holder
    died), "duplicate" (done or split), "busy" (another delivery holds its lease), or "settled" (the run is over:
    failed, cancelled, reaped). Returns the outcome and the slice."""
    from google.cloud import firestore

    run_ref = control.run_ref(db, org_slug, run_id)
    ref = control.slice_ref(db, org_slug, run_id, index)

    @firestore.transactional
    def claim(transaction):
        run, piece = run_ref.get(transaction=transaction), ref.get(transaction=transaction)
        values, now = (piece.to_dict() if piece.exists else None), datetime.now(UTC)
        if values is not None and values["status"] in (COMPLETED, SPLIT, FAILED):
            return "duplicate", values
        if not run.exists or values is None or run.get("status") != RUNNING:
            return "settled", values
        lease = values.get("lease_until")
        if values["status"] == RUNNING and lease is not None and lease.timestamp() > now.timestamp():
            return "busy", values
        changes = {
            "status": RUNNING,
            "attempts": values["attempts"] + 1,
            "lease_until": now + timedelta(seconds=lease_seconds + LEASE_GRACE_SECONDS),
            "started_at": now,  # this delivery's start: with completed_at, how long the delivery worked
            "updated_at": now,
        }
        transaction.update(ref, changes)
        return "claimed", {**values, **changes}

    return control.transact(db, claim)


def _settle_slice(db, org_slug, run_id, index, slice_changes, run_update):
    """One transaction: the slice (still RUNNING) gets `slice_changes`; `run_update(transaction, run)` then moves the
    run (reads first: it is called before any write). Returns what run_update returned, or None if the slice was
    no longer this delivery's."""
    from google.cloud import firestore

    run_ref = control.run_ref(db, org_slug, run_id)
    ref = control.slice_ref(db, org_slug, run_id, index)

    @firestore.transactional
    def settle(transaction):
        run, piece = run_ref.get(transaction=transaction), ref.get(transaction=transaction)
        if not run.exists or not piece.exists or piece.get("status") != RUNNING:
            return None
        outcome = run_update(transaction, control.from_document(run.to_dict()))
        transaction.update(ref, {**slice_changes, "lease_until": None, "updated_at": datetime.now(UTC)})
        return outcome or (None, None)

    return control.transact(db, settle)


def finish_slice(
    db, org_slug: str, run_id: str, index: int, rows: int
) -> tuple[dict | None, dict | None] | None:
    """The slice is COMPLETED; the run counts it, and the last one completes the run (its slot released in the
    same transaction). Returns (run, status changes) when the run completed, (None, None) otherwise; None if the
    slice was no longer held."""

    def count(transaction, run):
        done, now = (run.get("slices_done") or 0) + 1, datetime.now(UTC)
        progress = {"slices_done": done, "rows_written": (run.get("rows_written") or 0) + rows}
        if run["status"] == RUNNING and done >= run["slices_total"]:
            return move_in_transaction(transaction, db, run, COMPLETED, "completed", progress)
        progress["updated_at"] = now  # progress keeps the reaper away; the version moves only with the status
        transaction.update(control.run_ref(db, org_slug, run_id), progress)
        return None

    done = {"status": COMPLETED, "rows_written": rows, "completed_at": datetime.now(UTC)}
    return _settle_slice(db, org_slug, run_id, index, done, count)


def fail_slice(db, org_slug: str, run_id: str, index: int, code: str, message: str):
    """The slice FAILED for good: the run fails with its reason (slot released); the other slices then find the run
    settled and stop. Returns (run, status change) if this moved the run."""

    def fail(transaction, run):
        if run["status"] != RUNNING:
            return None
        fields = {"error_code": code, "error_message": message[:ERROR_MESSAGE_LIMIT]}
        return move_in_transaction(transaction, db, run, FAILED, code, fields)

    return _settle_slice(db, org_slug, run_id, index, {"status": FAILED, "error_code": code}, fail)


def hand_back_slice(db, org_slug: str, run_id: str, index: int) -> None:
    """A transient failure: the slice is PENDING again, for the redelivery Pub/Sub makes."""
    _settle_slice(db, org_slug, run_id, index, {"status": PENDING}, lambda transaction, run: None)


def split(
    db, org_slug: str, run_id: str, piece: SliceRef | None, cuts: list[tuple[date, date]]
) -> list[SliceRef]:
    """Replace a slice that ran out of time (or, `piece` None, a run delivered whole that did) by slices of
    `cuts`, numbered after the run's last; returns them, to publish."""
    from google.cloud import firestore

    run_ref = control.run_ref(db, org_slug, run_id)

    @firestore.transactional
    def replace(transaction):
        run = run_ref.get(transaction=transaction)
        old = control.slice_ref(db, org_slug, run_id, piece.index) if piece else None
        held = old.get(transaction=transaction) if old else None
        if not run.exists or run.get("status") != RUNNING or (old and held.get("status") != RUNNING):
            return []
        now, total = datetime.now(UTC), run.get("slices_total") or 0
        slices = [SliceRef(total + i, start, end) for i, (start, end) in enumerate(cuts)]
        for new in slices:
            transaction.create(control.slice_ref(db, org_slug, run_id, new.index), _slice_document(new, now))
        # A run delivered whole had no slice to count: its total is the new slices; a split slice is replaced.
        changes = {"slices_total": total + len(slices) - (1 if piece else 0), "updated_at": now}
        if piece is None:
            changes.update(slices_done=0, slices_published=False, rows_written=0)
        transaction.update(run_ref, changes)
        if old:
            transaction.update(old, {"status": SPLIT, "lease_until": None, "updated_at": now})
        return slices

    return control.transact(db, replace)
