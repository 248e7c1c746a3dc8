"""The one reserve -> publish -> settle path: what is published, and how a run that could not be is settled."""

from datetime import date

import pytest

from shared.platform.errors import ApiError
from shared.platform.settings import settings_from_env
from shared.runs.admission import Reservation
from shared.runs.model import RunRequest
from shared.runs.publish import NEW_RUN, REPLAYED_RUN, PublishFailed, reserve_and_publish
from shared.runs.run_log import RunLog

SETTINGS = settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k"})
DAY = date(2025, 11, 1)
REQUEST = RunRequest(
    "00000000-0000-4000-8000-000000000000", "acme", "openai/cost/usage_cost", "openai", DAY, DAY
)


class RecordingWarehouse:
    """Keeps every statement; answers a transition as moved."""

    def __init__(self):
        self.statements: list[tuple[str, dict]] = []

    def query(self, sql, params=None):
        self.statements.append((sql, params or {}))
        return [{"moved": 1}]


class Publisher:
    def __init__(self, fails=False):
        self.fails, self.published = fails, []

    def topic_path(self, project, topic):
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic, data, **attributes):
        if self.fails:
            raise ConnectionError("Pub/Sub unreachable")
        self.published.append((topic, attributes))
        return _Done()


class _Done:
    def result(self, timeout=None):
        return "message-1"


def _call(decision, publisher, warehouse, rule=NEW_RUN):
    reservation = Reservation(decision)
    return reserve_and_publish(
        warehouse, SETTINGS, publisher, REQUEST, reserve=lambda: reservation, if_unqueued=rule
    )


@pytest.mark.parametrize("decision", ["ACCEPTED", "REOPENED", "REQUEUED"])
def test_a_runnable_run_is_published_and_its_reservation_returned(decision):
    publisher, warehouse = Publisher(), RecordingWarehouse()
    assert _call(decision, publisher, warehouse) == Reservation(decision)
    assert publisher.published == [
        (
            "projects/p/topics/pipeline-runs-openai",
            {"org_slug": "acme", "pipeline_logging_id": REQUEST.pipeline_logging_id},
        )
    ]
    assert warehouse.statements == []


@pytest.mark.parametrize(
    "decision", ["DUPLICATE", "CONCURRENCY_LIMIT_REACHED", "RATE_LIMITED", "ALREADY_COMPLETED", "IN_FLIGHT"]
)
def test_any_other_decision_is_returned_without_publishing_or_writing(decision):
    publisher, warehouse = Publisher(fails=True), RecordingWarehouse()
    assert _call(decision, publisher, warehouse) == Reservation(decision)
    assert publisher.published == [] and warehouse.statements == []


@pytest.mark.parametrize(
    "rule, code, message, refund",
    [
        (NEW_RUN, "PUBLISH_FAILED", "The run could not be queued.", True),
        (REPLAYED_RUN, "REPLAY_PUBLISH_FAILED", "The replay could not be queued.", False),
    ],
)
def test_a_run_not_queued_is_settled_failed_by_its_rule_and_the_503_raised(
    rule, code, message, refund, monkeypatch
):
    failed = []
    monkeypatch.setattr(
        RunLog, "__init__", lambda self, warehouse, settings: None
    )  # no Firestore: only the call is checked
    monkeypatch.setattr(RunLog, "fail", lambda self, *args, **kw: failed.append((args, kw)) or True)
    with pytest.raises(PublishFailed) as raised:
        _call("ACCEPTED", Publisher(fails=True), RecordingWarehouse(), rule)
    assert isinstance(raised.value, ApiError) and raised.value.status == 503
    assert raised.value.body() == {
        "error": {"code": "BACKEND_UNAVAILABLE", "message": "The run could not be queued; try again."}
    }
    assert raised.value.headers == {}
    # One transition (its slot released in the same transaction, see RunLog.transition), counts as the rule says.
    assert failed == [(("acme", REQUEST.pipeline_logging_id, "PENDING", code, message), {"refund": refund})]
