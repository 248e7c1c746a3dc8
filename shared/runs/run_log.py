"""The run log: run rows, their status changes (with an audit trail) and step attempts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from shared.platform.settings import Settings, central_table
from shared.runs.model import FAILED, RUNNING, TERMINAL, RunRequest, fingerprint
from shared.warehouse.adapter import Warehouse
from shared.warehouse.params import Typed

_ERROR_MESSAGE_LIMIT = 1000
# What an org may see of its run rows (internal bookkeeping columns stay inside).
_PUBLIC_COLUMNS = (
    "* EXCEPT (request_fingerprint, message_id, attempts, quota_day, slot_held, last_transition_id)"
)


def run_row_params(request: RunRequest, now: datetime) -> dict:
    """Query parameters describing a new run row."""
    return {
        "id": request.pipeline_logging_id,
        "org": request.org_slug,
        "pipeline_id": request.pipeline_id,
        "provider": request.provider,
        "start": request.start_date,
        "end": request.end_date,
        "force": request.force_refresh,
        "trigger_by": Typed(request.trigger_by, "STRING"),
        "now": now,
    }


class RunLog:
    """Reads and writes run rows in the central dataset; every status change is conditional and audited.

    Every method that names a run takes the org first, `(org_slug, run_id, ...)`: the org is the tenancy scope
    every read and write of a run is filtered by.
    """

    def __init__(self, warehouse: Warehouse, settings: Settings):
        self.warehouse = warehouse
        self.runs = central_table(settings, "org_meta_pipeline_runs")
        self.steps = central_table(settings, "org_meta_step_logs")
        self.transitions = central_table(settings, "org_meta_state_transitions")
        self.quotas = central_table(settings, "org_usage_quotas")
        # Step rows of completed step attempts not written yet: they go with the run's next write (its status
        # change, or a failed attempt's row) in one statement, instead of one DML job (and commit) per step.
        self._deferred_steps: list[dict] = []

    def new_request(
        self, org_slug: str, pipeline_id: str, provider: str, start: date, end: date, **kw
    ) -> RunRequest:
        """A run request with a fresh id."""
        return RunRequest(str(uuid.uuid4()), org_slug, pipeline_id, provider, start, end, **kw)

    def create(self, request: RunRequest) -> None:
        """Write a run row as PENDING without a quota reservation (admin and test paths; the API reserves)."""
        now = datetime.now(UTC)
        params = {
            **run_row_params(request, now),
            "fp": fingerprint(request.org_slug, request.pipeline_id, request.start_date, request.end_date),
        }
        self.warehouse.execute(
            f"""
            BEGIN TRANSACTION;
            INSERT INTO `{self.runs}` (pipeline_logging_id, org_slug, pipeline_id, provider, status, start_date,
              end_date, force_refresh, trigger_by, request_fingerprint, slot_held, created_at, updated_at)
            VALUES (@id, @org, @pipeline_id, @provider, 'PENDING', @start, @end, @force, @trigger_by, @fp, FALSE,
              @now, @now);
            INSERT INTO `{self.transitions}` (pipeline_logging_id, org_slug, from_status, to_status, reason, at)
            VALUES (@id, @org, NULL, 'PENDING', 'requested', @now);
            COMMIT TRANSACTION;
            """,
            params,
        )

    def record_refusal(self, request: RunRequest, code: str, message: str) -> None:
        """Write a run that was refused before it could start (a scheduled run whose org lost its subscription or
        credential) as FAILED with a stable code, so the org sees why the day was not loaded; holds no slot."""
        now = datetime.now(UTC)
        params = {
            **run_row_params(request, now),
            "fp": fingerprint(request.org_slug, request.pipeline_id, request.start_date, request.end_date),
            "code": code,
            "message": message[:_ERROR_MESSAGE_LIMIT],
        }
        self.warehouse.execute(
            f"""
            BEGIN TRANSACTION;
            INSERT INTO `{self.runs}` (pipeline_logging_id, org_slug, pipeline_id, provider, status, start_date,
              end_date, force_refresh, trigger_by, request_fingerprint, slot_held, error_code, error_message,
              created_at, updated_at, completed_at)
            VALUES (@id, @org, @pipeline_id, @provider, 'FAILED', @start, @end, @force, @trigger_by, @fp, FALSE,
              @code, @message, @now, @now, @now);
            INSERT INTO `{self.transitions}` (pipeline_logging_id, org_slug, from_status, to_status, reason, at)
            VALUES (@id, @org, NULL, 'FAILED', @code, @now);
            COMMIT TRANSACTION;
            """,
            params,
        )

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

        One transaction: the status change, its audit row and, on a terminal status, the release of the run's
        concurrency slot (exactly once: the slot flag is cleared by the same write). `refund` also gives back the
        daily and monthly counts, against the day the run was counted (for runs that never got queued).
        """
        token = str(uuid.uuid4())
        params: dict = {
            "id": run_id,
            "org": org_slug,
            "from_status": from_status,
            "to_status": to_status,
            "now": datetime.now(UTC),
            "token": token,
            "reason": Typed(reason, "STRING"),
            "refund": refund,
        }
        assignments = ["status = @to_status", "updated_at = @now", "last_transition_id = @token"]
        if to_status == RUNNING:
            assignments += ["started_at = @now", "attempts = COALESCE(attempts, 0) + 1"]
        if to_status in TERMINAL:
            assignments += ["completed_at = @now", "slot_held = FALSE"]
        for name, value in fields.items():  # names come from this module's callers, never from a request
            assignments.append(f"{name} = @{name}")
            params[name] = value
        release = self._release_sql() if to_status in TERMINAL else ""
        steps_sql, steps_params = self._steps_insert(self._take_deferred_steps(org_slug, run_id))
        params.update(steps_params)
        rows = self.warehouse.query(
            f"""
            DECLARE moved INT64;
            BEGIN TRANSACTION;
            {release}
            {steps_sql}
            UPDATE `{self.runs}` SET {", ".join(assignments)}
              WHERE pipeline_logging_id = @id AND org_slug = @org AND status = @from_status;
            SET moved = (SELECT COUNT(*) FROM `{self.runs}` WHERE pipeline_logging_id = @id AND last_transition_id = @token);
            INSERT INTO `{self.transitions}` (pipeline_logging_id, org_slug, from_status, to_status, reason, at)
              SELECT @id, @org, @from_status, @to_status, @reason, @now FROM UNNEST([1]) WHERE moved = 1;
            COMMIT TRANSACTION;
            SELECT moved AS moved;
            """,
            params,
        )
        return rows[0]["moved"] == 1

    def _release_sql(self) -> str:
        """Give back the run's slot (and with @refund its counts) if it still holds one and is in @from_status."""
        return f"""
            UPDATE `{self.quotas}` AS q SET
              running = GREATEST(q.running - 1, 0),
              daily_runs = IF(@refund AND q.day = r.quota_day, GREATEST(q.daily_runs - 1, 0), q.daily_runs),
              monthly_runs = IF(@refund AND q.month = DATE_TRUNC(r.quota_day, MONTH),
                                GREATEST(q.monthly_runs - 1, 0), q.monthly_runs),
              updated_at = @now
            FROM (SELECT quota_day FROM `{self.runs}` WHERE pipeline_logging_id = @id AND org_slug = @org
                  AND status = @from_status AND slot_held) AS r
            WHERE q.org_slug = @org;
        """

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
        """The org's runs, newest first, filtered; `after` is the (created_at, id) of the last row already seen."""
        where, params = ["org_slug = @org"], {"org": org_slug, "limit": limit}
        if status:
            where.append("status = @status")
            params["status"] = status
        if pipeline_id:
            where.append("pipeline_id = @pipeline_id")
            params["pipeline_id"] = pipeline_id
        if start:  # runs whose requested range overlaps [start, end]
            where.append("end_date >= @start")
            params["start"] = start
        if end:
            where.append("start_date <= @end")
            params["end"] = end
        if after:
            where.append(
                "(created_at < @after_at OR (created_at = @after_at AND pipeline_logging_id < @after_id))"
            )
            params["after_at"], params["after_id"] = after
        return self.warehouse.query(
            f"SELECT {_PUBLIC_COLUMNS} FROM `{self.runs}` WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, pipeline_logging_id DESC LIMIT @limit",
            params,
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
        """Record one step attempt. `defer` (a completed attempt) keeps the row for the run's next write: its
        status change or a later attempt's row; a crash before that loses only rows of work the re-run redoes."""
        row = {
            "step_logging_id": str(uuid.uuid4()),
            "pipeline_logging_id": run_id,
            "org_slug": org_slug,
            "step_id": step_id,
            "ps_type": ps_type,
            "attempt": attempt,
            "status": status,
            "rows_written": Typed(rows, "INT64"),
            "error_code": Typed(error_code, "STRING"),
            "error_message": Typed(error_message[:_ERROR_MESSAGE_LIMIT] if error_message else None, "STRING"),
            "started_at": started_at,
            "completed_at": datetime.now(UTC),
        }
        self._deferred_steps.append(row)
        if not defer:
            self.flush_steps(org_slug, run_id)

    def flush_steps(self, org_slug: str, run_id: str) -> None:
        """Write the run's deferred step rows now (a run left without a status change, e.g. cancelled)."""
        sql, params = self._steps_insert(self._take_deferred_steps(org_slug, run_id))
        if sql:
            self.warehouse.execute(sql, params)

    def _take_deferred_steps(self, org_slug: str, run_id: str) -> list[dict]:
        def of_run(row: dict) -> bool:
            return row["org_slug"] == org_slug and row["pipeline_logging_id"] == run_id

        taken = [row for row in self._deferred_steps if of_run(row)]
        self._deferred_steps = [row for row in self._deferred_steps if not of_run(row)]
        return taken

    def _steps_insert(self, rows: list[dict]) -> tuple[str, dict]:
        """One INSERT of step rows (SQL and parameters); empty SQL for no rows."""
        if not rows:
            return "", {}
        columns = list(rows[0])
        values = [f"({', '.join(f'@s{i}_{c}' for c in columns)})" for i in range(len(rows))]
        params = {f"s{i}_{c}": row[c] for i, row in enumerate(rows) for c in columns}
        return f"INSERT INTO `{self.steps}` ({', '.join(columns)}) VALUES {', '.join(values)};", params
