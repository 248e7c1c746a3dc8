"""One-shot move of a deployment's live control state from its BigQuery tables (the control plane before
Firestore) into Firestore: quota counters, runs in flight (with their duplicate index entries and scheduler
markers) and stored dead letters. Idempotent (a document that exists is left as it is), with a dry run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from shared.platform.identifiers import SCHEDULER_TRIGGER
from shared.platform.settings import Settings, central_table
from shared.runs import control
from shared.runs.history import VERSION_COLUMNS
from shared.runs.model import IN_FLIGHT
from shared.warehouse.adapter import Warehouse

LEGACY_QUOTAS, LEGACY_DEAD_LETTERS = "org_usage_quotas", "org_meta_dead_letters"
# A legacy run row: the history's columns, less those the old control plane did not have.
_RUN_FIELDS = tuple(c for c in VERSION_COLUMNS if c not in ("version", "slices_total", "slices_done"))


@dataclass
class MigrationReport:
    """What the migration wrote (or, in a dry run, would write), and what it found already in Firestore."""

    dry_run: bool
    written: Counter = field(default_factory=Counter)
    already_present: Counter = field(default_factory=Counter)
    legacy_tables: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "legacy_tables": self.legacy_tables,
            "written": dict(sorted(self.written.items())),
            "already_present": dict(sorted(self.already_present.items())),
        }


def _exists(warehouse: Warehouse, settings: Settings, table: str) -> bool:
    from google.api_core import exceptions

    try:
        warehouse.client.get_table(central_table(settings, table))
    except exceptions.NotFound:
        return False
    return True


def _legacy_runs_in_flight(warehouse: Warehouse, settings: Settings) -> list[dict]:
    """Runs in flight as the old control plane kept them: one mutable row per run (no `version`)."""
    columns = ", ".join(_RUN_FIELDS)
    return warehouse.query(
        f"SELECT {columns} FROM `{central_table(settings, 'org_meta_pipeline_runs')}` "
        "WHERE version IS NULL AND status IN UNNEST(@in_flight) ORDER BY org_slug, created_at",
        {"in_flight": list(IN_FLIGHT)},
    )


def migrate_control_state(warehouse: Warehouse, settings: Settings, *, dry_run: bool) -> MigrationReport:
    """Create in Firestore every piece of live control state the legacy tables hold and Firestore does not."""
    from google.api_core import exceptions

    db = control.control_db(settings)
    report = MigrationReport(dry_run)
    runs = _legacy_runs_in_flight(warehouse, settings)
    report.legacy_tables.append("org_meta_pipeline_runs")
    held = Counter(run["org_slug"] for run in runs if run["slot_held"])
    plan: list[tuple[str, object, dict]] = []
    for run in runs:
        org, run_id = run["org_slug"], run["pipeline_logging_id"]
        document = {
            **{key: run[key] for key in _RUN_FIELDS},
            "attempts": run["attempts"] or 0,
            "slot_held": bool(run["slot_held"]),
            "version": 1,
            "slices_total": None,
            "slices_done": None,
            "expire_at": None,
            "last_reason": "migrated from the BigQuery control plane",
        }
        plan.append(("runs", control.run_ref(db, org, run_id), control.to_document(document)))
        entry = {"run_id": run_id, "created_at": run["created_at"]}
        plan.append(("inflight", control.inflight_ref(db, org, run["request_fingerprint"]), entry))
        if run["trigger_by"] == SCHEDULER_TRIGGER and run["start_date"] == run["end_date"]:
            marker = {
                "run_id": run_id,
                "pipeline_id": run["pipeline_id"],
                "day": run["start_date"].isoformat(),
                "expire_at": run["created_at"] + control.MARKER_RETENTION,
            }
            plan.append(
                ("scheduled", control.scheduled_ref(db, org, run["pipeline_id"], run["start_date"]), marker)
            )
    if _exists(warehouse, settings, LEGACY_QUOTAS):
        report.legacy_tables.append(LEGACY_QUOTAS)
        for quota in warehouse.query(f"SELECT * FROM `{central_table(settings, LEGACY_QUOTAS)}`"):
            values = {
                "day": quota["day"].isoformat() if quota["day"] else None,
                "daily_runs": quota["daily_runs"] or 0,
                "month": quota["month"].isoformat() if quota["month"] else None,
                "monthly_runs": quota["monthly_runs"] or 0,
                # Recounted from the runs in flight that hold a slot, not copied: the reaper's rule.
                "running": held.get(quota["org_slug"], 0),
                "updated_at": quota["updated_at"],
            }
            plan.append(("orgs", control.org_ref(db, quota["org_slug"]), values))
    if _exists(warehouse, settings, LEGACY_DEAD_LETTERS):
        report.legacy_tables.append(LEGACY_DEAD_LETTERS)
        for letter in warehouse.query(f"SELECT * FROM `{central_table(settings, LEGACY_DEAD_LETTERS)}`"):
            values = {**letter, "expire_at": letter["stored_at"] + control.DEAD_LETTER_RETENTION}
            plan.append(("dead_letters", control.dead_letter_ref(db, letter["message_id"]), values))
    refs = [ref for _, ref, _ in plan]
    present = {snapshot.reference.path for snapshot in db.get_all(refs) if snapshot.exists} if refs else set()
    for kind, ref, values in plan:
        if ref.path in present:
            report.already_present[kind] += 1
            continue
        if not dry_run:
            try:
                ref.create(values)
            except exceptions.AlreadyExists:  # written meanwhile (a run moving, another migration)
                report.already_present[kind] += 1
                continue
        report.written[kind] += 1
    return report
