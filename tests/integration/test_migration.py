"""`dps migrate-control-state`: the legacy BigQuery control state (quota rows, mutable run rows in flight, stored
dead letters) moves into Firestore once; a dry run writes nothing; a second run writes nothing new."""

from datetime import UTC, date, datetime, timedelta

from shared.platform.settings import central_table
from shared.runs import control
from shared.runs.admission import reserve_run
from shared.runs.migration import migrate_control_state
from shared.runs.model import fingerprint
from shared.runs.run_log import RunLog
from shared.tenancy.subscriptions import load_plans
from tests.kit.orgs import unique_slug
from tests.kit.runs import latest_runs, quota_row, run_document

PIPELINE = "openai/cost/usage_cost"
NOW = datetime.now(UTC).replace(microsecond=0)


def _legacy_tables(warehouse, settings) -> None:
    """The tables the BigQuery control plane kept (their schemas as they were)."""
    warehouse.execute(f"""CREATE TABLE IF NOT EXISTS `{central_table(settings, "org_usage_quotas")}` (
        org_slug STRING NOT NULL, day DATE, daily_runs INT64 NOT NULL, month DATE, monthly_runs INT64 NOT NULL,
        running INT64 NOT NULL, rate_window TIMESTAMP, rate_count INT64 NOT NULL, updated_at TIMESTAMP NOT NULL)""")
    warehouse.execute(f"""CREATE TABLE IF NOT EXISTS `{central_table(settings, "org_meta_dead_letters")}` (
        message_id STRING NOT NULL, provider STRING NOT NULL, org_slug STRING, pipeline_logging_id STRING,
        pipeline_id STRING, delivery_attempts INT64, source_subscription STRING, dead_lettered_at TIMESTAMP NOT NULL,
        stored_at TIMESTAMP NOT NULL, run_status STRING, error_code STRING, error_message STRING, payload STRING,
        replay_count INT64 NOT NULL, replayed_at TIMESTAMP)""")


def _legacy_run(warehouse, settings, org, run_id, status, day, trigger_by=None) -> None:
    warehouse.execute(
        f"""INSERT INTO `{central_table(settings, "org_meta_pipeline_runs")}` (pipeline_logging_id, org_slug,
          pipeline_id, provider, status, start_date, end_date, force_refresh, trigger_by, request_fingerprint,
          attempts, quota_day, slot_held, created_at, started_at, updated_at)
        VALUES (@id, @org, @pipeline, 'openai', @status, @day, @day, FALSE, @trigger_by, @fp, 1, @today,
          @status IN ('PENDING', 'RUNNING'), @now, @now, @now)""",
        {
            "id": run_id,
            "org": org,
            "pipeline": PIPELINE,
            "status": status,
            "day": day,
            "trigger_by": trigger_by or "",
            "fp": fingerprint(org, PIPELINE, day, day),
            "today": NOW.date(),
            "now": NOW,
        },
    )


def test_the_legacy_control_state_moves_once_and_runs_go_on_from_it(warehouse, settings):
    org = unique_slug()
    pending, running, done = (f"00000000-0000-4000-8000-00000000000{i}" for i in range(3))
    days = [date(2025, 4, 1) + timedelta(days=i) for i in range(3)]
    _legacy_tables(warehouse, settings)
    _legacy_run(warehouse, settings, org, pending, "PENDING", days[0])
    _legacy_run(warehouse, settings, org, running, "RUNNING", days[1], trigger_by="scheduler")
    _legacy_run(warehouse, settings, org, done, "COMPLETED", days[2])
    warehouse.execute(
        f"INSERT INTO `{central_table(settings, 'org_usage_quotas')}` VALUES (@org, @today, 3, @month, 9, 5, "
        "NULL, 0, @now)",  # running = 5: a counter that drifted; the migration recounts it
        {"org": org, "today": NOW.date(), "month": NOW.date().replace(day=1), "now": NOW},
    )
    warehouse.execute(
        f"INSERT INTO `{central_table(settings, 'org_meta_dead_letters')}` (message_id, provider, org_slug, "
        "pipeline_logging_id, dead_lettered_at, stored_at, replay_count) VALUES ('dl-1', 'openai', @org, @id, "
        "@now, @now, 0)",
        {"org": org, "id": done, "now": NOW},
    )
    expected = {"dead_letters": 1, "inflight": 2, "orgs": 1, "runs": 2, "scheduled": 1}

    dry = migrate_control_state(warehouse, settings, dry_run=True).as_dict()
    assert dry["written"] == expected and dry["already_present"] == {}
    assert run_document(settings, org, pending) is None  # a dry run writes nothing

    moved = migrate_control_state(warehouse, settings, dry_run=False).as_dict()
    assert moved["written"] == expected
    assert (
        run_document(settings, org, pending)["status"],
        run_document(settings, org, running)["status"],
    ) == (
        "PENDING",
        "RUNNING",
    )
    assert run_document(settings, org, done) is None  # settled runs stay history only
    quota = quota_row(warehouse, settings, org)
    assert (quota["running"], quota["daily_runs"], quota["monthly_runs"]) == (2, 3, 9)

    again = migrate_control_state(warehouse, settings, dry_run=False).as_dict()
    assert again["written"] == {} and again["already_present"] == expected  # idempotent

    # The migrated state works: an identical request finds the run in flight, the running run completes and
    # gives its slot back, and the history's latest version says so.
    run_log = RunLog(warehouse, settings)
    limits = load_plans(settings.config_dir)["professional"]
    twin = run_log.new_request(org, PIPELINE, "openai", days[0], days[0])
    answer = reserve_run(warehouse, settings, twin, limits)
    assert (answer.decision, answer.existing_id) == ("DUPLICATE", pending)
    assert run_log.transition(org, running, "RUNNING", "COMPLETED", reason="completed")
    assert quota_row(warehouse, settings, org)["running"] == 1
    latest = {row["pipeline_logging_id"]: row["status"] for row in latest_runs(warehouse, settings, org)}
    assert latest == {pending: "PENDING", running: "COMPLETED", done: "COMPLETED"}
    letter = control.dead_letter_ref(control.control_db(settings), "dl-1").get().to_dict()
    assert (letter["org_slug"], letter["pipeline_logging_id"]) == (org, done)
