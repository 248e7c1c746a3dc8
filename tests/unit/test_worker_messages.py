"""Decoding of run messages: what the worker accepts and what it drops as undecodable."""

import base64
import json

import pytest

from shared.platform.errors import TerminalError
from shared.worker.entry import decode_message

GOOD = {
    "pipeline_logging_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "org_slug": "acmecorp",
    "pipeline_id": "openai/cost/usage_cost",
    "provider": "openai",
    "start_date": "2025-11-01",
    "end_date": "2025-11-02",
    "force_refresh": False,
    "trigger_by": None,
}


def _event(payload, **message):
    data = (
        base64.b64encode(json.dumps(payload).encode()).decode() if not isinstance(payload, str) else payload
    )
    return {"message": {"data": data, **message}}


def test_a_published_run_request_round_trips():
    request, message_id = decode_message(_event(GOOD, messageId="42"))
    assert request.to_message() == GOOD and message_id == "42"


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"message": {}},
        _event("not base64!"),
        _event({**GOOD, "start_date": "yesterday"}),
        _event({k: v for k, v in GOOD.items() if k != "org_slug"}),
        _event({**GOOD, "org_slug": "Robert'); DROP TABLE--"}),
        _event({**GOOD, "pipeline_logging_id": "1 OR 1=1"}),
    ],
)
def test_malformed_messages_are_terminal(event):
    with pytest.raises(TerminalError) as caught:
        decode_message(event)
    assert caught.value.code == "BAD_MESSAGE"
