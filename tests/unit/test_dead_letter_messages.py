"""Dead letters without I/O: replay bodies, and the row a pulled dead-letter message becomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from shared.api.models import ReplayBody, parse_model
from shared.dead_letters.store import message_row
from shared.platform.errors import ApiError

RUN_ID = "4f1c2b9e-8a7d-4c3b-9e2f-1a2b3c4d5e6f"


def _received(data: bytes, attributes: dict) -> SimpleNamespace:
    published = datetime(2026, 11, 27, 4, 14, tzinfo=UTC)
    message = SimpleNamespace(message_id="42", data=data, attributes=attributes, publish_time=published)
    return SimpleNamespace(message=message, ack_id="ack-42")


@pytest.mark.parametrize(
    "body",
    [
        b'{"message_ids": ["1", "2"]}',
        b'{"all": true}',
        b'{"all": true, "provider": "openai", "org_slug": "acme"}',
    ],
)
def test_replay_bodies_that_select_letters(body):
    parse_model(ReplayBody, body)


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"all": false}',
        b'{"message_ids": []}',
        b'{"message_ids": ["1"], "all": true}',
        b'{"message_ids": ["1"], "org_slug": "acme"}',
        b'{"message_ids": ["a b"]}',
        b'{"all": true, "org_slug": "Not A Slug"}',
        b'{"all": "yes"}',
        b'{"all": true, "extra": 1}',
    ],
)
def test_replay_bodies_refused_with_422(body):
    with pytest.raises(ApiError) as caught:
        parse_model(ReplayBody, body)
    assert caught.value.status == 422 and caught.value.code == "INVALID_REQUEST"


def test_a_run_message_becomes_a_row_with_its_run_and_deliveries():
    payload = {"pipeline_logging_id": RUN_ID, "org_slug": "acmecorp", "pipeline_id": "openai/cost/usage_cost"}
    attributes = {
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        "CloudPubSubDeadLetterSourceSubscription": "pipeline-runs-openai-push",
    }
    row = message_row("openai", _received(json.dumps(payload).encode(), attributes))
    assert row["message_id"] == "42" and row["provider"] == "openai"
    assert (row["org_slug"], row["pipeline_logging_id"], row["pipeline_id"]) == (
        "acmecorp",
        RUN_ID,
        "openai/cost/usage_cost",
    )
    assert row["delivery_attempts"] == 5 and row["source_subscription"] == "pipeline-runs-openai-push"
    assert row["dead_lettered_at"] == datetime(2026, 11, 27, 4, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    "data", [b"not json", b"[1, 2]", b'{"org_slug": "Robert\'); DROP", "pipeline_logging_id": "x"}']
)
def test_an_undecodable_message_is_kept_without_run_fields(data):
    row = message_row("gcp", _received(data, {}))
    assert row["org_slug"] is None and row["pipeline_logging_id"] is None and row["delivery_attempts"] is None
    assert row["payload"] == data.decode()
