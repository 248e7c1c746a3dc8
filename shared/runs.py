"""The run log: run rows, their status changes (with an audit trail) and step attempts."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from shared.settings import Settings, central_table
from shared.warehouse import Typed, Warehouse

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED = "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"
TERMINAL = (COMPLETED, FAILED, CANCELLED)
_ERROR_MESSAGE_LIMIT = 1000
# What an org may see of its run rows (internal bookkeeping columns stay inside).
_PUBLIC_COLUMNS = "* EXCEPT (request_fingerprint, message_id, attempts)"


@dataclass(frozen=True)
class RunRequest:
    """What a run is asked to do; the message published for the worker carries exactly this."""

    pipeline_logging_id: str
    org_slug: str
    pipeline_id: str
    provider: str
    start_date: date
    end_date: date
    force_refresh: bool = False
    trigger_by: str | None = None

    def to_message(self) -> dict:
        return {
            "pipeline_logging_id": self.pipeline_logging_id,
            "org_slug": self.org_slug,
            "pipeline_id": self.pipeline_id,
            "provider": self.provider,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "force_refresh": self.force_refresh,
            "trigger_by": self.trigger_by,
        }

    @classmethod
    def from_message(cls, data: dict) -> RunRequest:
        return cls(
            pipeline_logging_id=data["pipeline_logging_id"],
            org_slug=data["org_slug"],
            pipeline_id=data["pipeline_id"],
            provider=data["provider"],
            start_date=date.fromisoformat(data["start_date"]),
            end_date=date.fromisoformat(data["end_date"]),
            force_refresh=bool(data.get("force_refresh", False)),
            trigger_by=data.get("trigger_by"),
        )


def fingerprint(org_slug: str, pipeline_id: str, start: date, end: date) -> str:
    """Identifies identical requests (same org, pipeline and dates) to find a run already in flight."""
    return hashlib.sha256(f"{org_slug}|{pipeline_id}|{start}|{end}".encode()).hexdigest()


class RunLog:
    """Reads and writes run rows in the central dataset; every status change is conditional and audited."""

    def __init__(self, warehouse: Warehouse, settings: Settings):
        self.warehouse = warehouse
        self.runs = central_table(settings, "org_meta_pipeline_runs")
        self.steps = central_table(settings, "org_meta_step_logs")
        self.transitions = central_table(settings, "org_meta_state_transitions")

    def new_request(
        self, org_slug: str, pipeline_id: str, provider: str, start: date, end: date, **kw
    ) -> RunRequest:
        """A run request with a fresh id."""
        return RunRequest(str(uuid.uuid4()), org_slug, pipeline_id, provider, start, end, **kw)

    def create(self, request: RunRequest) -> None:
        """Write the run row as PENDING."""
        now = datetime.now(UTC)
        self.warehouse.execute(
            f"""
            INSERT INTO `{self.runs}` (pipeline_logging_id, org_slug, pipeline_id, provider, status, start_date,
              end_date, force_refresh, trigger_by, request_fingerprint, created_at, updated_at)
            VALUES (@id, @org, @pipeline_id, @provider, 'PENDING', @start, @end, @force, @trigger_by, @fp,
              @now, @now)
            """,
            {
                "id": request.pipeline_logging_id,
                "org": request.org_slug,
                "pipeline_id": request.pipeline_id,
                "provider": request.provider,
                "start": request.start_date,
                "end": request.end_date,
                "force": request.force_refresh,
                "trigger_by": Typed(request.trigger_by, "STRING"),
                "fp": fingerprint(
                    request.org_slug, request.pipeline_id, request.start_date, request.end_date
                ),
                "now": now,
            },
        )
        self._audit(request.pipeline_logging_id, request.org_slug, None, PENDING, "requested")

    def transition(
        self,
        run_id: str,
        org_slug: str,
        from_status: str,
        to_status: str,
        *,
        reason: str | None = None,
        **fields,
    ) -> bool:
        """Move a run from one status to another only if it is still in `from_status`; True if it moved."""
        now = datetime.now(UTC)
        assignments = ["status = @to_status", "updated_at = @now"]
        params: dict = {
            "id": run_id,
            "org": org_slug,
            "from_status": from_status,
            "to_status": to_status,
            "now": now,
        }
        if to_status == RUNNING:
            assignments += ["started_at = @now", "attempts = COALESCE(attempts, 0) + 1"]
        if to_status in TERMINAL:
            assignments.append("completed_at = @now")
        for name, value in fields.items():  # names come from this module's callers, never from a request
            assignments.append(f"{name} = @{name}")
            params[name] = value
        moved = self.warehouse.execute(
            f"UPDATE `{self.runs}` SET {', '.join(assignments)} "
            "WHERE pipeline_logging_id = @id AND org_slug = @org AND status = @from_status",
            params,
        )
        if moved:
            self._audit(run_id, org_slug, from_status, to_status, reason)
        return bool(moved)

    def fail(self, run_id: str, org_slug: str, from_status: str, code: str, message: str) -> bool:
        """Mark a run FAILED with a stable code and a message for the org."""
        return self.transition(
            run_id,
            org_slug,
            from_status,
            FAILED,
            reason=code,
            error_code=Typed(code, "STRING"),
            error_message=Typed(message[:_ERROR_MESSAGE_LIMIT], "STRING"),
        )

    def get(self, org_slug: str, run_id: str) -> dict | None:
        """The run row of this org, or None (another org's run is indistinguishable from a missing one)."""
        rows = self.warehouse.query(
            f"SELECT {_PUBLIC_COLUMNS} FROM `{self.runs}` WHERE pipeline_logging_id = @id AND org_slug = @org",
            {"id": run_id, "org": org_slug},
        )
        return rows[0] if rows else None

    def list_for_org(self, org_slug: str, limit: int) -> list[dict]:
        """The org's most recent runs, newest first."""
        return self.warehouse.query(
            f"SELECT {_PUBLIC_COLUMNS} FROM `{self.runs}` WHERE org_slug = @org ORDER BY created_at DESC LIMIT @limit",
            {"org": org_slug, "limit": limit},
        )

    def attempts(self, org_slug: str, run_id: str) -> int:
        """How many deliveries have claimed the run so far."""
        rows = self.warehouse.query(
            f"SELECT attempts FROM `{self.runs}` WHERE pipeline_logging_id = @id AND org_slug = @org",
            {"id": run_id, "org": org_slug},
        )
        return (rows[0]["attempts"] or 0) if rows else 0

    def status(self, org_slug: str, run_id: str) -> str | None:
        """The run's current status, or None if there is no such run for this org."""
        rows = self.warehouse.query(
            f"SELECT status FROM `{self.runs}` WHERE pipeline_logging_id = @id AND org_slug = @org",
            {"id": run_id, "org": org_slug},
        )
        return rows[0]["status"] if rows else None

    def step_logs(self, org_slug: str, run_id: str) -> list[dict]:
        """The run's step attempts, oldest first."""
        return self.warehouse.query(
            f"SELECT step_id, ps_type, attempt, status, rows_written, error_code, error_message, started_at, "
            f"completed_at FROM `{self.steps}` WHERE pipeline_logging_id = @id AND org_slug = @org "
            "ORDER BY started_at, attempt",
            {"id": run_id, "org": org_slug},
        )

    def log_step(
        self,
        run_id: str,
        org_slug: str,
        step_id: str,
        ps_type: str,
        attempt: int,
        status: str,
        started_at: datetime,
        *,
        rows: int | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Record one step attempt."""
        self.warehouse.execute(
            f"""
            INSERT INTO `{self.steps}` (step_logging_id, pipeline_logging_id, org_slug, step_id, ps_type, attempt,
              status, rows_written, error_code, error_message, started_at, completed_at)
            VALUES (@sid, @id, @org, @step_id, @ps_type, @attempt, @status, @rows, @code, @message, @started, @now)
            """,
            {
                "sid": str(uuid.uuid4()),
                "id": run_id,
                "org": org_slug,
                "step_id": step_id,
                "ps_type": ps_type,
                "attempt": attempt,
                "status": status,
                "rows": Typed(rows, "INT64"),
                "code": Typed(error_code, "STRING"),
                "message": Typed(error_message[:_ERROR_MESSAGE_LIMIT] if error_message else None, "STRING"),
                "started": started_at,
                "now": datetime.now(UTC),
            },
        )

    def _audit(self, run_id: str, org_slug: str, from_status: str | None, to_status: str, reason: str | None):
        self.warehouse.execute(
            f"INSERT INTO `{self.transitions}` (pipeline_logging_id, org_slug, from_status, to_status, reason, at) "
            "VALUES (@id, @org, @from_status, @to_status, @reason, @now)",
            {
                "id": run_id,
                "org": org_slug,
                "from_status": Typed(from_status, "STRING"),
                "to_status": to_status,
                "reason": Typed(reason, "STRING"),
                "now": datetime.now(UTC),
            },
        )
