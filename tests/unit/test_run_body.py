"""Run request bodies: accepted forms, and 422s that name the field at fault."""

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.api.models import parse_run_body
from shared.platform.errors import ApiError


def test_single_date_and_range():
    assert parse_run_body(b'{"date": "2025-11-25"}', 90).date_range() == (
        date(2025, 11, 25),
        date(2025, 11, 25),
    )
    body = parse_run_body(
        b'{"start_date": "2025-11-01", "end_date": "2025-11-07", "force_refresh": true}', 90
    )
    assert body.date_range() == (date(2025, 11, 1), date(2025, 11, 7)) and body.force_refresh


@pytest.mark.parametrize(
    "raw, field",
    [
        (b"", "Body must be JSON"),
        (b"{bad", "body: Invalid JSON"),
        (b'{"date": "2025-13-01"}', "date:"),
        (b'{"date": 20251125}', "date:"),
        (b'{"date": "2025-11-25", "extra": 1}', "extra:"),
        (b'{"start_date": "2025-11-25"}', "both start_date and end_date"),
        (b'{"date": "2025-11-25", "start_date": "2025-11-25"}', "not both"),
        (b'{"start_date": "2025-11-25", "end_date": "2025-11-01"}', "end_date: must not be before"),
        (
            b'{"start_date": "2025-01-01", "end_date": "2025-06-01"}',
            "end_date: the range may cover at most 90",
        ),
        (b'{"date": "2025-11-25", "force_refresh": "yes"}', "force_refresh:"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(raw, field):
    with pytest.raises(ApiError) as caught:
        parse_run_body(raw, 90)
    assert caught.value.status == 422 and caught.value.code == "INVALID_REQUEST"
    assert field in caught.value.message


def test_future_dates_are_refused():
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    with pytest.raises(ApiError, match="in the future"):
        parse_run_body(f'{{"date": "{tomorrow}"}}'.encode(), 90)


@pytest.mark.parametrize(
    "raw, key",
    [
        (b'{"date": "2025-11-25", "date": "2025-11-24"}', "date"),
        (b'{"date": "2025-11-25", "trigger_by": "a", "trigger_by": "b"}', "trigger_by"),
    ],
)
def test_a_key_given_twice_is_422_naming_it(raw, key):
    with pytest.raises(ApiError) as caught:
        parse_run_body(raw, 90)
    assert caught.value.code == "INVALID_REQUEST" and caught.value.message.startswith(f"{key}: given twice")


def test_duplicates_in_nested_objects_and_other_bodies_are_refused_too():
    from shared.api.models import ReplayBody, parse_model

    with pytest.raises(ApiError, match="all: given twice"):
        parse_model(ReplayBody, b'{"all": true, "all": false}')
    with pytest.raises(ApiError, match="x: given twice"):
        parse_run_body(b'{"date": "2025-11-25", "trigger_by": {"x": 1, "x": 2}}', 90)
