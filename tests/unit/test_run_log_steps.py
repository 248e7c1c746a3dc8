"""Step rows of completed attempts ride along with the run's next history append: one call, nothing lost, in
order."""

from datetime import UTC, datetime

from shared.platform.settings import settings_from_env
from shared.runs.run_log import RunLog

# The Firestore client is built but never reached: the status change itself is replaced below.
SETTINGS = settings_from_env(
    {"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9"}
)


class RecordingHistory:
    """Keeps every append (versions, status changes, step rows)."""

    def __init__(self):
        self.appends: list[tuple[list, list, list]] = []

    def try_append(self, versions, moves, steps):
        self.appends.append((versions, moves, steps))
        return True


def _run_log(monkeypatch) -> tuple[RunLog, RecordingHistory]:
    run_log = RunLog(object(), SETTINGS)
    run_log.history = RecordingHistory()

    def moved(org, run_id, from_status, to_status, reason, refund, fields):
        run = {"pipeline_logging_id": run_id, "org_slug": org, "status": to_status, "version": 2}
        return run, [{"pipeline_logging_id": run_id, "org_slug": org, "to_status": to_status, "version": 2}]

    monkeypatch.setattr(run_log, "_transact_move", moved)
    return run_log, run_log.history


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


def _steps(append) -> list[str]:
    return [row["step_id"] for row in append[2]]


def test_completed_steps_are_appended_before_the_run_settles_and_its_version_after(monkeypatch):
    run_log, history = _run_log(monkeypatch)
    _log(run_log, "usage", "COMPLETED", defer=True)
    _log(run_log, "costs", "COMPLETED", defer=True)
    assert history.appends == []  # no call per step
    assert run_log.transition("acme", "r1", "RUNNING", "COMPLETED", reason="completed")
    # One call for the step rows, then one for the new version: a reader that sees the run COMPLETED in Firestore
    # finds its step rows already in the history.
    [steps, version] = history.appends
    assert (steps[0], steps[1], _steps(steps)) == ([], [], ["usage", "costs"])
    assert (
        [run["status"] for run in version[0]] == ["COMPLETED"] and len(version[1]) == 1 and version[2] == []
    )


def test_a_failed_attempt_appends_the_earlier_rows_first_and_other_runs_keep_theirs(monkeypatch):
    run_log, history = _run_log(monkeypatch)
    _log(run_log, "usage", "COMPLETED", defer=True)
    _log(run_log, "usage", "COMPLETED", defer=True, run="r2")
    _log(run_log, "costs", "RETRYING")
    assert [_steps(append) for append in history.appends] == [["usage", "costs"]]
    run_log.flush_steps("acme", "r1")  # nothing left for r1
    assert len(history.appends) == 1
    run_log.flush_steps("acme", "r2")  # e.g. a cancelled run: its completed steps are still recorded
    assert _steps(history.appends[-1]) == ["usage"]
    assert history.appends[-1][2][0]["pipeline_logging_id"] == "r2"
