"""Step rows of completed attempts ride along with the run's next write: one statement, nothing lost, in order."""

from datetime import UTC, datetime

from shared.platform.settings import settings_from_env
from shared.runs.run_log import RunLog

SETTINGS = settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k"})


class RecordingWarehouse:
    """Keeps every statement; answers a transition as moved."""

    def __init__(self):
        self.statements: list[tuple[str, dict]] = []

    def query(self, sql, params=None):
        self.statements.append((sql, params or {}))
        return [{"moved": 1}]

    def execute(self, sql, params=None):
        self.statements.append((sql, params or {}))
        return 1


def _log(run_log, step, status, defer=False, run="r1"):
    run_log.log_step(
        "acme",
        run,
        step_id=step,
        ps_type="openai.costs",
        attempt=1,
        status=status,
        started_at=datetime.now(UTC),
        rows=3,
        defer=defer,
    )


def _step_ids_written(statement: tuple[str, dict]) -> list[str]:
    sql, params = statement
    assert "org_meta_step_logs" in sql
    return [params[f"s{i}_step_id"] for i in range(sql.count("(@s"))]


def test_completed_steps_are_written_with_the_status_change():
    warehouse = RecordingWarehouse()
    run_log = RunLog(warehouse, SETTINGS)
    _log(run_log, "usage", "COMPLETED", defer=True)
    _log(run_log, "costs", "COMPLETED", defer=True)
    assert warehouse.statements == []  # no DML job per step
    assert run_log.transition("acme", "r1", "RUNNING", "COMPLETED", reason="completed")
    [(sql, params)] = warehouse.statements
    assert sql.index("BEGIN TRANSACTION") < sql.index("org_meta_step_logs") < sql.index("COMMIT TRANSACTION")
    assert _step_ids_written((sql, params)) == ["usage", "costs"]


def test_a_failed_attempt_writes_the_earlier_rows_first_and_other_runs_keep_theirs():
    warehouse = RecordingWarehouse()
    run_log = RunLog(warehouse, SETTINGS)
    _log(run_log, "usage", "COMPLETED", defer=True)
    _log(run_log, "usage", "COMPLETED", defer=True, run="r2")
    _log(run_log, "costs", "RETRYING")
    assert [_step_ids_written(s) for s in warehouse.statements] == [["usage", "costs"]]
    run_log.flush_steps("acme", "r1")  # nothing left for r1
    assert len(warehouse.statements) == 1
    run_log.flush_steps("acme", "r2")  # e.g. a cancelled run: its completed steps are still recorded
    assert _step_ids_written(warehouse.statements[-1]) == ["usage"]
    assert warehouse.statements[-1][1]["s0_pipeline_logging_id"] == "r2"
