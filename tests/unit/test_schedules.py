"""Schedules: the day a firing runs (time zones, DST, "yesterday"), config validation, task names, skip reasons."""

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from devstack.standins.tasks_dispatch import backoff_seconds
from shared.api.models import RunBody, TriggerBody
from shared.platform.settings import DEFAULT_CONFIG_DIR
from shared.scheduling.cron import due_date, latest_firing, next_firing, run_date
from shared.scheduling.tasks import ScheduledRun
from shared.scheduling.trigger import OrgState, skip_reason
from shared.worker.pipelines import ScheduleConfig, load_pipelines, scheduled_pipelines


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "now, expected_firing, expected_day",
    [
        (utc(2025, 11, 26, 2, 0), utc(2025, 11, 26, 2, 0), date(2025, 11, 25)),  # exactly at the firing
        (utc(2025, 11, 26, 2, 0, 30), utc(2025, 11, 26, 2, 0), date(2025, 11, 25)),
        (utc(2025, 11, 26, 1, 59), utc(2025, 11, 25, 2, 0), date(2025, 11, 24)),  # before today's firing
        (utc(2025, 1, 1, 3, 0), utc(2025, 1, 1, 2, 0), date(2024, 12, 31)),  # across a year
        (utc(2024, 3, 1, 2, 0), utc(2024, 3, 1, 2, 0), date(2024, 2, 29)),  # leap day
    ],
)
def test_utc_daily_schedule_runs_yesterday(now, expected_firing, expected_day):
    assert latest_firing("0 2 * * *", "UTC", now) == expected_firing
    assert due_date("0 2 * * *", "UTC", "yesterday", now) == expected_day


def test_the_day_is_the_schedules_local_day_not_utcs():
    # 02:30 in Tokyo on the 26th is 17:30 UTC on the 25th: Tokyo's yesterday is the 25th, UTC's would be the 24th.
    assert due_date("30 2 * * *", "Asia/Tokyo", "yesterday", utc(2025, 11, 25, 17, 45)) == date(2025, 11, 25)
    # 02:00 in Los Angeles (PST, -8) on the 26th is 10:00 UTC; at 09:30 UTC it has not fired yet that day.
    assert latest_firing("0 2 * * *", "America/Los_Angeles", utc(2025, 11, 26, 9, 30)) == utc(
        2025, 11, 25, 10
    )
    assert due_date("0 2 * * *", "America/Los_Angeles", "yesterday", utc(2025, 11, 26, 10)) == date(
        2025, 11, 25
    )
    assert due_date("0 2 * * *", "UTC", "today", utc(2025, 11, 26, 3)) == date(2025, 11, 26)


def test_dst_spring_forward_fires_once_after_the_gap():
    # Berlin, 2025-03-30: 02:00 CET jumps to 03:00 CEST, so 02:30 never happens; it fires at 03:30 CEST.
    cron, zone = "30 2 * * *", "Europe/Berlin"
    firing = next_firing(cron, zone, utc(2025, 3, 29, 12))
    assert firing == utc(2025, 3, 30, 1, 30)
    assert run_date(firing, zone) == date(2025, 3, 29)
    assert latest_firing(cron, zone, utc(2025, 3, 30, 1, 15)) == utc(
        2025, 3, 29, 1, 30
    )  # 03:15 CEST: not yet
    assert next_firing(cron, zone, firing) == utc(2025, 3, 31, 0, 30)  # next day back on 02:30 CEST


def test_dst_fall_back_fires_once_at_the_first_occurrence():
    # Berlin, 2025-10-26: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice; it fires once, the first.
    cron, zone = "30 2 * * *", "Europe/Berlin"
    firing = next_firing(cron, zone, utc(2025, 10, 25, 12))
    assert firing == utc(2025, 10, 26, 0, 30)
    assert next_firing(cron, zone, firing) == utc(2025, 10, 27, 1, 30)  # not again at 01:30 UTC on the 26th
    assert latest_firing(cron, zone, utc(2025, 10, 26, 1, 45)) == firing
    assert run_date(firing, zone) == date(2025, 10, 25)


def test_daily_utc_schedule_keeps_its_utc_hour_across_dst_elsewhere():
    firings = [next_firing("0 2 * * *", "UTC", utc(2025, 3, 29) + timedelta(days=i)) for i in range(3)]
    assert [f.hour for f in firings] == [2, 2, 2]


def test_cloud_schedulers_schedule_time_wins_over_now():
    # A call retried at 05:10 for the 02:00 firing of the 26th still runs the 25th; so does a call a day late.
    late = due_date("0 2 * * *", "UTC", "yesterday", utc(2025, 11, 27, 5, 10), utc(2025, 11, 26, 2))
    assert late == date(2025, 11, 25)


@pytest.mark.parametrize(
    "block, message",
    [
        ({"cron": "0 2 * *"}, "five-field"),
        ({"cron": "0 0 2 * * *"}, "five-field"),
        ({"cron": "61 2 * * *"}, "five-field"),
        ({"cron": "0 2 * * *", "time_zone": "Mars/Olympus"}, "IANA"),
        ({"cron": "0 2 * * *", "date": "tomorrow"}, "yesterday"),
        ({"cron": "0 2 * * *", "every": "day"}, "Extra inputs"),
    ],
)
def test_bad_schedule_blocks_are_refused(block, message):
    with pytest.raises(ValidationError, match=message):
        ScheduleConfig.model_validate(block)


def test_shipped_pipelines_carry_their_schedules():
    schedules = {pid: config.schedule for pid, config in scheduled_pipelines(DEFAULT_CONFIG_DIR).items()}
    assert schedules["openai/cost/usage_cost"] == ScheduleConfig(
        cron="0 2 * * *", time_zone="UTC", date="yesterday"
    )
    assert schedules["gcp/cost/billing"].cron == "0 4 * * *"
    # Any config with a schedule is picked up (e.g. anthropic's at 02:15 once it lands).
    assert set(schedules) == {pid for pid, c in load_pipelines(DEFAULT_CONFIG_DIR).items() if c.schedule}


def test_task_names_are_deterministic_valid_and_distinct():
    run = ScheduledRun("acmecorp", "openai/cost/usage_cost", date(2025, 11, 25))
    assert run.task_id == ScheduledRun("acmecorp", "openai/cost/usage_cost", date(2025, 11, 25)).task_id
    assert run.task_id.endswith("-acmecorp-openai-cost-usage_cost-20251125")
    assert all(ch.isalnum() or ch in "-_" for ch in run.task_id) and len(run.task_id) <= 500
    others = {
        ScheduledRun("acmecorp", "openai/cost/usage_cost", date(2025, 11, 26)).task_id,
        ScheduledRun("acme_corp", "openai/cost/usage_cost", date(2025, 11, 25)).task_id,
        ScheduledRun("acmecorp", "gcp/cost/billing", date(2025, 11, 25)).task_id,
    }
    assert run.task_id not in others and len(others) == 3


def _state(status="ACTIVE", credential=True, existing=None):
    return OrgState("acmecorp", "starter", status, credential, "id" if existing else None, existing)


def test_skip_reasons():
    assert skip_reason(_state()) is None
    assert skip_reason(_state(status="TRIAL")) is None
    assert skip_reason(_state(status="SUSPENDED")) == "SUBSCRIPTION_SUSPENDED"
    assert skip_reason(_state(status=None)) == "SUBSCRIPTION_INACTIVE"
    assert skip_reason(_state(credential=False)) == "INTEGRATION_NOT_CONFIGURED"
    assert skip_reason(_state(existing="COMPLETED")) == "ALREADY_RAN"


def test_queue_backoff_doubles_then_grows_linearly_up_to_the_cap():
    from google.cloud import tasks_v2

    retry = tasks_v2.RetryConfig(
        min_backoff=timedelta(seconds=10), max_backoff=timedelta(seconds=300), max_doublings=3
    )
    # Cloud Tasks' documented example: 10, 20, 40, 80, 160, 240, 300, 300 seconds.
    assert [backoff_seconds(retry, n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]


def test_trigger_body_and_the_reserved_trigger_by():
    assert TriggerBody.model_validate({}).pipeline_id is None
    with pytest.raises(ValidationError):
        TriggerBody.model_validate({"date": "2025-01-01", "scheduled_time": "2025-01-02T02:00:00Z"})
    with pytest.raises(ValidationError, match="UTC offset"):
        TriggerBody.model_validate({"scheduled_time": "2025-01-02T02:00:00"})
    with pytest.raises(ValidationError, match="reserved"):
        RunBody.model_validate_json(b'{"date": "2025-01-01", "trigger_by": "scheduler"}')
