"""Inputs at the edges of Python's types (huge numbers, years 1 and 9999, extreme UTC offsets) are refused or
ignored as malformed, never raised past the API's error handling."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.api.models import TriggerBody
from shared.api.paging import decode_page_token
from shared.platform.errors import ApiError
from shared.platform.logs import SPAN_FIELD, TRACE_FIELD, trace_fields

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
RUN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize("span", ["9" * 4301, "1" * 21, "18446744073709551616" + "0"])
def test_an_overlong_decimal_span_is_malformed_not_a_crash(span):
    assert trace_fields("p", None, f"{TRACE_ID}/{span};o=1") == {}


def test_the_largest_decimal_span_still_maps_to_sixteen_hex_digits():
    fields = trace_fields("p", None, f"{TRACE_ID}/{2**64 - 1}")
    assert fields == {TRACE_FIELD: f"projects/p/traces/{TRACE_ID}", SPAN_FIELD: "f" * 16}


def _token(created_at: str) -> str:
    raw = json.dumps({"c": created_at, "i": RUN_ID}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("created_at", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
def test_a_page_token_outside_utcs_range_is_422(created_at):
    with pytest.raises(ApiError) as caught:
        decode_page_token(_token(created_at))
    assert caught.value.code == "INVALID_REQUEST" and caught.value.message.startswith("page_token")


def test_a_page_token_is_read_in_utc():
    created_at, _ = decode_page_token(_token("2025-11-25T10:00:00+02:00"))
    assert created_at == datetime(2025, 11, 25, 8, tzinfo=UTC) and created_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "scheduled_time",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-23:59",
        pytest.param((datetime.now(UTC) + timedelta(days=2)).isoformat(), id="two days ahead"),
    ],
)
def test_a_trigger_for_a_firing_outside_the_served_years_is_refused(scheduled_time):
    with pytest.raises(ValidationError, match="scheduled_time"):
        TriggerBody.model_validate({"scheduled_time": scheduled_time})


def test_a_recent_firing_is_accepted():
    from shared.api.models import firing_time_problem

    recent = datetime.now(UTC) - timedelta(hours=1)
    assert TriggerBody.model_validate({"scheduled_time": recent.isoformat()}).scheduled_time == recent
    assert firing_time_problem(recent) is None


def test_firing_time_problem_names_the_problem():
    from shared.api.models import firing_time_problem

    assert "future" in firing_time_problem(datetime(9999, 12, 31, tzinfo=UTC))
    assert "three years" in firing_time_problem(datetime(1, 1, 1, tzinfo=UTC))
    assert "range" in firing_time_problem(datetime.fromisoformat("0001-01-01T00:00:00+23:59"))
