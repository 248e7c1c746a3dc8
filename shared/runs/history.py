"""The run history in BigQuery, append-only: run versions, status changes and step attempts are streamed in
(insertAll with insert ids), and a view gives each run's latest version. Nothing here updates or deletes."""

from __future__ import annotations

from datetime import date, datetime

from shared.platform.errors import TransientError
from shared.platform.logs import log
from shared.platform.settings import Settings, central_table
from shared.warehouse.adapter import Warehouse

RUNS, TRANSITIONS, STEPS = "org_meta_pipeline_runs", "org_meta_state_transitions", "org_meta_step_logs"
LATEST_VIEW = "org_meta_pipeline_runs_latest"
# The columns of a run version (the history table's), in the order the table declares them.
VERSION_COLUMNS = (
    "pipeline_logging_id",
    "org_slug",
    "pipeline_id",
    "provider",
    "status",
    "start_date",
    "end_date",
    "force_refresh",
    "trigger_by",
    "request_fingerprint",
    "message_id",
    "attempts",
    "quota_day",
    "slot_held",
    "rows_written",
    "error_code",
    "error_message",
    "created_at",
    "started_at",
    "completed_at",
    "updated_at",
    "version",
    "slices_total",
    "slices_done",
)
# Bookkeeping of the control plane that never reaches an org.
INTERNAL_COLUMNS = ("request_fingerprint", "message_id", "attempts", "quota_day", "slot_held", "version")
# What an org may see of a run.
PUBLIC_COLUMNS = tuple(column for column in VERSION_COLUMNS if column not in INTERNAL_COLUMNS)


def latest_view_sql(settings: Settings) -> str:
    """The latest version of every run: the highest `version` (rows from before versions count as 0); a row
    streamed twice is the same version twice, so either copy is the answer."""
    return f"""
    SELECT * EXCEPT (version_rank) FROM (
      SELECT *, ROW_NUMBER() OVER (
        PARTITION BY org_slug, pipeline_logging_id ORDER BY COALESCE(version, 0) DESC, updated_at DESC
      ) AS version_rank
      FROM `{central_table(settings, RUNS)}`)
    WHERE version_rank = 1
    """


def ensure_views(warehouse: Warehouse, settings: Settings) -> None:
    """Create (or update) the history's views in the central dataset (bootstrap and deploy, not per request)."""
    warehouse.execute(
        f"CREATE OR REPLACE VIEW `{central_table(settings, LATEST_VIEW)}` AS {latest_view_sql(settings)}"
    )


def version_row(run: dict) -> dict:
    """A run document as a history row (the table's columns only)."""
    return {column: run.get(column) for column in VERSION_COLUMNS}


def public_run(run: dict) -> dict:
    """What the org sees of a run (a document or a history row)."""
    return {column: run.get(column) for column in PUBLIC_COLUMNS}


class RunHistory:
    """Appends to the central history tables and reads them (through the latest-version view)."""

    def __init__(self, warehouse: Warehouse, settings: Settings):
        self.warehouse, self.settings = warehouse, settings
        self.dataset = settings.central_dataset

    def append(self, versions: list[dict], transitions: list[dict], steps: list[dict]) -> None:
        """Stream run versions, status changes and step attempts; each row carries an insert id made from what
        identifies it, so a retry (or a re-sync after an outage) never adds a second copy that a reader keeps."""
        self.warehouse.append_rows(
            self.dataset,
            RUNS,
            [version_row(run) for run in versions],
            [f"{run['pipeline_logging_id']}:{run['version']}" for run in versions],
        )
        self.warehouse.append_rows(
            self.dataset,
            TRANSITIONS,
            [{key: move[key] for key in _TRANSITION_COLUMNS} for move in transitions],
            [f"{move['pipeline_logging_id']}:t{move['version']}" for move in transitions],
        )
        self.warehouse.append_rows(self.dataset, STEPS, steps, [step["step_logging_id"] for step in steps])

    def try_append(self, versions: list[dict], transitions: list[dict], steps: list[dict]) -> bool:
        """`append`, reporting an outage instead of raising: the control state has already moved on, and the
        history is brought level later (see `shared.runs.reaper`). True when everything was appended."""
        try:
            self.append(versions, transitions, steps)
        except TransientError as error:
            ids = sorted({row["pipeline_logging_id"] for row in [*versions, *transitions, *steps]})
            log("ERROR", f"run history append failed, to be re-synced: {error.message}", runs=ids[:20])
            return False
        return True

    def latest(self, org_slug: str, run_id: str) -> dict | None:
        """The run's latest recorded version, or None (another org's run is indistinguishable from none)."""
        rows = self.warehouse.query(
            f"SELECT * FROM `{central_table(self.settings, LATEST_VIEW)}` "
            "WHERE pipeline_logging_id = @id AND org_slug = @org",
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
        """The org's runs (latest versions), newest first, filtered; `after` is the (created_at, id) of the last
        row already seen."""
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
        columns = ", ".join(PUBLIC_COLUMNS)
        return self.warehouse.query(
            f"SELECT {columns} FROM `{central_table(self.settings, LATEST_VIEW)}` WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, pipeline_logging_id DESC LIMIT @limit",
            params,
        )

    def step_logs(self, org_slug: str, run_id: str) -> list[dict]:
        """The run's step attempts, oldest first (a row streamed twice is shown once)."""
        return self.warehouse.query(
            f"SELECT DISTINCT step_logging_id, step_id, ps_type, attempt, status, rows_written, error_code, "
            f"error_message, started_at, completed_at FROM `{central_table(self.settings, STEPS)}` "
            "WHERE pipeline_logging_id = @id AND org_slug = @org ORDER BY started_at, attempt",
            {"id": run_id, "org": org_slug},
        )


_TRANSITION_COLUMNS = ("pipeline_logging_id", "org_slug", "from_status", "to_status", "reason", "at")
