"""A run that was reserved (or re-opened) but could not be queued, through each of the three paths that queue
runs: the run API, the scheduler's process-queue and dead-letter replay. Pub/Sub refuses every publish; each path
answers as documented, settles the run FAILED with its code, gives back its slot, and refunds the daily and
monthly counts only for a new run (a replayed run was counted once, when it was accepted)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request

from shared.api.app import ApiDeps, handle
from shared.dead_letters import store
from shared.runs import control
from shared.runs.admission import reserve_run
from shared.runs.control import control_db
from shared.runs.run_log import RunLog
from shared.tenancy.subscriptions import load_plans
from tests.kit.runs import quota_row, status_changes

pytestmark = pytest.mark.stack
PIPELINE = "openai/cost/usage_cost"
QUEUE_FAILED = {"code": "BACKEND_UNAVAILABLE", "message": "The run could not be queued; try again."}


class RefusingPublisher:
    """A Pub/Sub publisher whose every publish fails, as when Pub/Sub is unreachable."""

    def __init__(self):
        self.published = 0

    def topic_path(self, project, topic):
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic, data, **attributes):
        self.published += 1
        raise ConnectionError("Pub/Sub unreachable")


@pytest.fixture
def client(settings, warehouse, kms):
    publisher = RefusingPublisher()
    deps = ApiDeps(settings, warehouse, publisher=publisher, kms_client=kms)
    served = Client(lambda environ, start: handle(Request(environ), deps)(environ, start))
    served.publisher = publisher
    return served


def _lines(capsys) -> list[tuple[str, str]]:
    """The (severity, message) of each log line this process wrote since the last call."""
    out = capsys.readouterr().out
    return [(line["severity"], line["message"]) for line in map(json.loads, out.splitlines()) if line]


def _runs(warehouse, settings, org_slug) -> list[dict]:
    """The org's runs, live documents, in date order."""
    db = control_db(settings)
    runs = [s.to_dict() for s in control.org_ref(db, org_slug).collection(control.RUNS).stream()]
    return sorted(runs, key=lambda run: run["start_date"])


def _moves(warehouse, settings, run_id) -> list[tuple]:
    return [
        (row["from_status"], row["to_status"], row["reason"])
        for row in status_changes(warehouse, settings, run_id)
    ]


def _counts(warehouse, settings, org_slug) -> dict:
    """The org's slot and counts, and the requests counted in the rate shards (their window)."""
    quota = quota_row(warehouse, settings, org_slug)
    shards = control.org_ref(control_db(settings), org_slug).collection(control.RATE).stream()
    return {
        "running": quota["running"],
        "daily_runs": quota["daily_runs"],
        "monthly_runs": quota["monthly_runs"],
        "rate_count": sum(len(shard.get("times")) for shard in shards),
    }


def test_the_run_api_answers_503_and_refunds_the_run(settings, warehouse, api_only_org, client, capsys):
    org = api_only_org()
    capsys.readouterr()
    response = client.post(
        f"/api/v1/pipelines/run/{org['org_slug']}/{PIPELINE}",
        json={"date": "2025-11-01"},
        headers={"X-API-Key": org["api_key"]},
    )
    assert response.status_code == 503 and response.json == {"error": QUEUE_FAILED}
    assert "Retry-After" not in response.headers
    assert client.publisher.published == 1
    [run] = _runs(warehouse, settings, org["org_slug"])
    assert (run["status"], run["error_code"], run["error_message"]) == (
        "FAILED",
        "PUBLISH_FAILED",
        "The run could not be queued.",
    )
    assert run["trigger_by"] is None and run["slot_held"] is False
    assert _moves(warehouse, settings, run["pipeline_logging_id"]) == [
        (None, "PENDING", "requested"),
        ("PENDING", "FAILED", "PUBLISH_FAILED"),
    ]
    # The slot and the counts are given back; the request still counts against the rate.
    assert _counts(warehouse, settings, org["org_slug"]) == {
        "running": 0,
        "daily_runs": 0,
        "monthly_runs": 0,
        "rate_count": 1,
    }
    assert _lines(capsys) == []


def test_process_queue_answers_503_so_the_task_is_retried_and_refunds_the_run(
    stack, settings, warehouse, new_org, client, capsys
):
    org = new_org()
    capsys.readouterr()
    response = client.post(
        "/api/v1/scheduler/process-queue",
        json={"org_slug": org["org_slug"], "pipeline_id": PIPELINE, "date": "2025-10-01"},
        headers={"X-CA-Root-Key": stack.secrets["root_key"]},
    )
    assert response.status_code == 503 and response.json == {"error": QUEUE_FAILED}
    assert response.headers["Retry-After"] == "5"
    [run] = _runs(warehouse, settings, org["org_slug"])
    assert (run["status"], run["error_code"], run["error_message"]) == (
        "FAILED",
        "PUBLISH_FAILED",
        "The run could not be queued.",
    )
    assert run["trigger_by"] == "scheduler" and run["slot_held"] is False
    assert _moves(warehouse, settings, run["pipeline_logging_id"]) == [
        (None, "PENDING", "requested"),
        ("PENDING", "FAILED", "PUBLISH_FAILED"),
    ]
    assert _counts(warehouse, settings, org["org_slug"]) == {
        "running": 0,
        "daily_runs": 0,
        "monthly_runs": 0,
        "rate_count": 1,
    }
    assert _lines(capsys) == [("WARNING", "BACKEND_UNAVAILABLE on POST /api/v1/scheduler/process-queue")]


def _letter(request) -> dict:
    return {
        "message_id": f"pf-{uuid.uuid4().hex}",
        "provider": "openai",
        "org_slug": request.org_slug,
        "pipeline_logging_id": request.pipeline_logging_id,
        "pipeline_id": request.pipeline_id,
        "delivery_attempts": 5,
        "source_subscription": None,
        "dead_lettered_at": datetime.now(UTC),
        "payload": json.dumps(request.to_message()),
    }


def test_replay_leaves_the_runs_failed_and_replayable_without_refunding_them(
    stack, settings, warehouse, new_org, client, capsys
):
    org = new_org()
    slug, run_log = org["org_slug"], RunLog(warehouse, settings)
    limits = load_plans(settings.config_dir)["professional"]
    failed, held = (
        run_log.new_request(slug, PIPELINE, "openai", day, day)
        for day in (date(2025, 9, 1), date(2025, 9, 2))
    )
    for request in (failed, held):
        assert reserve_run(warehouse, settings, request, limits).decision == "ACCEPTED"
    # One run FAILED (its slot released: a replay re-opens it), one still PENDING with its slot (re-queued).
    assert run_log.fail(slug, failed.pipeline_logging_id, "PENDING", "PROVIDER_UNAVAILABLE", "gave up")
    letters = [_letter(failed), _letter(held)]
    store.store(control_db(settings), letters)
    capsys.readouterr()

    response = client.post(
        "/api/v1/admin/dead-letters/replay",
        json={"message_ids": [letter["message_id"] for letter in letters]},
        headers={"X-CA-Root-Key": stack.secrets["root_key"]},
    )
    assert response.status_code == 503 and response.json == {
        "error": {
            "code": "BACKEND_UNAVAILABLE",
            "message": "Pub/Sub refused the replay; the runs are FAILED and replayable.",
        }
    }
    assert client.publisher.published == 2
    runs = _runs(warehouse, settings, slug)
    assert [(r["status"], r["error_code"], r["error_message"], r["slot_held"]) for r in runs] == [
        ("FAILED", "REPLAY_PUBLISH_FAILED", "The replay could not be queued.", False)
    ] * 2
    assert _moves(warehouse, settings, failed.pipeline_logging_id) == [
        (None, "PENDING", "requested"),
        ("PENDING", "FAILED", "PROVIDER_UNAVAILABLE"),
        ("FAILED", "PENDING", "replayed (was FAILED)"),
        ("PENDING", "FAILED", "REPLAY_PUBLISH_FAILED"),
    ]
    assert _moves(warehouse, settings, held.pipeline_logging_id) == [
        (None, "PENDING", "requested"),
        ("PENDING", "PENDING", "replayed (was PENDING)"),
        ("PENDING", "FAILED", "REPLAY_PUBLISH_FAILED"),
    ]
    # Both slots are free again; the runs stay counted (each was counted once, when accepted).
    assert _counts(warehouse, settings, slug) == {
        "running": 0,
        "daily_runs": 2,
        "monthly_runs": 2,
        "rate_count": 2,
    }
    listed = store.list_letters(control_db(settings), org=slug)
    assert {(letter["replay_count"], letter["replayed_at"]) for letter in listed} == {(0, None)}
    assert _lines(capsys) == []
