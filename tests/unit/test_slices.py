"""Slicing a run: windows, halves, which runs fan out, and a slice's message round trip."""

import itertools
from datetime import date, timedelta

import pytest

from shared.platform.settings import SettingsError, settings_from_env
from shared.providers.gcp import PROVIDER as GCP
from shared.providers.openai import PROVIDER as OPENAI
from shared.runs.model import RunRequest, SliceRef
from shared.runs.slices import halves, windows
from shared.worker.fanout import planned_cuts
from shared.worker.pipelines import load_pipelines

SETTINGS = settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k"})
RUN = "00000000-0000-4000-8000-000000000000"


def _request(pipeline: str, provider: str, start: date, end: date) -> RunRequest:
    return RunRequest(RUN, "acme", pipeline, provider, start, end)


def test_windows_cover_the_range_once_in_order_with_no_gap():
    cuts = windows(date(2025, 1, 1), date(2025, 3, 5), 7)
    assert cuts[0][0] == date(2025, 1, 1) and cuts[-1][1] == date(2025, 3, 5)
    assert all(b[0] == a[1] + timedelta(days=1) for a, b in itertools.pairwise(cuts))
    assert all((end - start).days + 1 <= 7 for start, end in cuts) and len(cuts) == 10
    assert windows(date(2025, 1, 1), date(2025, 1, 1), 7) == [(date(2025, 1, 1), date(2025, 1, 1))]


@pytest.mark.parametrize("days", [2, 3, 7, 8, 31])
def test_halves_split_a_slice_into_two_that_cover_it(days):
    piece = SliceRef(4, date(2025, 1, 1), date(2025, 1, days))
    (a_start, a_end), (b_start, b_end) = halves(piece)
    assert (a_start, b_end) == (piece.start_date, piece.end_date) and b_start == a_end + timedelta(days=1)
    assert abs((a_end - a_start).days - (b_end - b_start).days) <= 1


def test_a_run_fans_out_only_when_its_window_spans_more_than_its_slice_days():
    pipelines = load_pipelines(SETTINGS.config_dir)
    gcp, openai = pipelines["gcp/cost/billing"], pipelines["openai/cost/usage_cost"]
    one_day = _request("gcp/cost/billing", "gcp", date(2025, 8, 20), date(2025, 8, 20))
    assert planned_cuts(GCP, gcp, one_day) is None  # 1 day + the 3-day look-back fits one delivery
    backfill = _request("gcp/cost/billing", "gcp", date(2025, 8, 10), date(2025, 10, 8))
    cuts = planned_cuts(GCP, gcp, backfill)
    assert len(cuts) == 9 and cuts[0][0] == date(2025, 8, 7)  # the look-back is planned once, in slice 0
    month = _request("openai/cost/usage_cost", "openai", date(2025, 1, 1), date(2025, 1, 31))
    assert planned_cuts(OPENAI, openai, month) is None
    quarter = _request("openai/cost/usage_cost", "openai", date(2025, 1, 1), date(2025, 3, 31))
    assert [(end - start).days + 1 for start, end in planned_cuts(OPENAI, openai, quarter)] == [
        31,
        31,
        28,
    ]


def test_a_slice_travels_in_its_message_and_a_malformed_one_is_refused():
    request = _request("gcp/cost/billing", "gcp", date(2025, 1, 1), date(2025, 1, 31))
    sliced = RunRequest(**{**request.__dict__, "slice": SliceRef(3, date(2025, 1, 8), date(2025, 1, 14))})
    assert RunRequest.from_message(sliced.to_message()) == sliced
    assert "slice" not in request.to_message()
    for bad in (
        {"index": -1},
        {"index": True},
        {"index": 1, "start_date": "2025-01-09", "end_date": "2025-01-08"},
    ):
        message = {**sliced.to_message(), "slice": {**sliced.to_message()["slice"], **bad}}
        with pytest.raises(ValueError):
            RunRequest.from_message(message)


@pytest.mark.parametrize("value", ["0", "541", "soon", "-5"])
def test_the_delivery_bound_is_checked(value):
    with pytest.raises(SettingsError, match="DELIVERY_MAX_SECONDS"):
        settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k", "DELIVERY_MAX_SECONDS": value})
    assert SETTINGS.delivery_max_seconds == 300.0
