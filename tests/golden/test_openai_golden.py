"""Golden tests: recorded-shape OpenAI pages → extract (via httpx.MockTransport) → transform → expected rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml

from shared.platform.errors import TerminalError
from shared.providers.contract import StepContext
from shared.providers.openai.extract import extract_projects
from shared.providers.openai.transform import project_names
from shared.providers.registry import get_processor
from tests.kit.golden import jsonable
from tests.kit.recorded import RecordedApi
from tests.kit.steps import PROD_ENV, offline_settings, step_context

GOLDEN = Path(__file__).parent / "openai"
PAGES = Path(__file__).resolve().parents[1] / "providers" / "openai" / "pages"
SCHEMAS = Path(__file__).resolve().parents[2] / "configs" / "schemas" / "org"
START, END = date(2024, 11, 1), date(2024, 11, 4)
START_TIME, END_TIME = 1730419200, 1730764800  # 2024-11-01 00:00 UTC, 2024-11-05 00:00 UTC (exclusive)
SECRET = "sk-admin-golden-0123456789abcdef"
RUN_ID = "run_golden_0001"
INGESTED_AT = datetime(2024, 11, 5, 6, 0, tzinfo=UTC)
USAGE_PATH, COSTS_PATH = "/v1/organization/usage/completions", "/v1/organization/costs"
USAGE_PAGES = ["usage_page_1.json", "usage_page_2.json", "usage_page_3.json"]
COSTS_PAGES = ["costs_page_1.json", "costs_page_2.json"]


PROJECTS_PATH = "/v1/organization/projects"


class Recorded(RecordedApi):
    """One endpoint's recorded pages, with the cursors in the order the pages name them (the costs step also lists
    the organization's projects: one recorded page)."""

    def __init__(self, path: str, page_files: list[str]):
        pages = {path: [PAGES / name for name in page_files]}
        if path == COSTS_PATH:
            pages[PROJECTS_PATH] = [PAGES / "projects_page_1.json"]
        super().__init__(pages)
        self.path = path
        self.cursors = [None] + [json.loads((PAGES / n).read_text())["next_page"] for n in page_files[:-1]]


def _context(api: RecordedApi, env: dict | None = None, metadata: dict | None = None) -> StepContext:
    settings = offline_settings(env) if env else None
    return step_context(
        "openai", START, END, SECRET, metadata=metadata, settings=settings, transport=api.transport()
    )


def _run(ps_type: str, api: RecordedApi, **kwargs) -> list[dict]:
    processor = get_processor(ps_type)
    ctx = _context(api, **kwargs)
    return processor.transform(processor.extract(ctx), ctx, ingested_at=INGESTED_AT)


def _expected(name: str) -> list[dict]:
    return json.loads((GOLDEN / name).read_text())


def _assert_queries(api: Recorded, group_by: list[str], limit: int) -> None:
    requests = api.requests_to(api.path)
    assert len(requests) == len(api.cursors)  # one request per page: nothing fetched twice
    for request, cursor in zip(requests, api.cursors, strict=True):
        params = request.url.params
        assert params["start_time"] == str(START_TIME)
        assert params["end_time"] == str(END_TIME)
        assert params["bucket_width"] == "1d"
        assert params.get_list("group_by") == group_by
        assert params["limit"] == str(limit)
        assert params.get("page") == cursor
        assert set(params.keys()) == {"start_time", "end_time", "bucket_width", "group_by", "limit"} | (
            {"page"} if cursor else set()
        )
        assert request.headers["authorization"] == f"Bearer {SECRET}"
        assert request.url.host == "api.openai.com" and request.url.scheme == "https"


def test_usage_pages_become_expected_rows():
    api = Recorded(USAGE_PATH, USAGE_PAGES)
    rows = _run("openai.usage_completions", api)
    _assert_queries(api, ["project_id", "model", "batch", "service_tier"], 31)
    assert jsonable(rows) == _expected("expected_usage_rows.json")


def test_cost_pages_become_expected_rows():
    api = Recorded(COSTS_PATH, COSTS_PAGES)
    rows = _run("openai.costs", api)
    _assert_queries(api, ["project_id", "line_item"], 180)
    assert jsonable(rows) == _expected("expected_costs_rows.json")
    # Project names: the result's own where it has one, else the Projects API's (archived projects included).
    [projects] = api.requests_to(PROJECTS_PATH)
    assert list(projects.url.params.multi_items()) == [("limit", "100"), ("include_archived", "true")]
    assert {row["project_id"]: row["project_name"] for row in rows} == {
        None: None,
        "proj_abc": "Checkout",
        "proj_def": "Data pipeline",
        "proj_ghi": "Fine-tune lab",
    }


_PY_TYPES = {
    "DATE": date,
    "INT64": int,
    "NUMERIC": Decimal,
    "STRING": str,
    "BOOL": bool,
    "TIMESTAMP": datetime,
}


@pytest.mark.parametrize(
    ("ps_type", "table", "path", "pages"),
    [
        ("openai.usage_completions", "openai_usage_daily", USAGE_PATH, USAGE_PAGES),
        ("openai.costs", "openai_costs_daily", COSTS_PATH, COSTS_PAGES),
    ],
)
def test_rows_match_the_table_schema_and_python_types(ps_type, table, path, pages):
    fields = yaml.safe_load((SCHEMAS / f"{table}.yml").read_text())["fields"]
    rows = _run(ps_type, Recorded(path, pages))
    assert rows
    for row in rows:
        assert list(row) == [field["name"] for field in fields]  # same columns, in the table's order
        for field in fields:
            value = row[field["name"]]
            if value is None:
                assert field["mode"] == "NULLABLE", field["name"]
                continue
            # Exact types: a bool is not an INT64 and a datetime is not a DATE to BigQuery.
            assert type(value) is _PY_TYPES[field["type"]], field["name"]
            if field["type"] == "NUMERIC":
                assert value.as_tuple().exponent == -9  # BigQuery NUMERIC scale
            if field["type"] == "TIMESTAMP":
                assert value.utcoffset().total_seconds() == 0


def test_transform_stamps_one_ingestion_time_when_none_is_given():
    processor = get_processor("openai.usage_completions")
    ctx = _context(Recorded(USAGE_PATH, USAGE_PAGES))
    rows = processor.transform(processor.extract(ctx), ctx)
    stamps = {row["x_ingested_at"] for row in rows}
    assert len(stamps) == 1 and next(iter(stamps)).tzinfo is not None
    assert {row["x_pipeline_logging_id"] for row in rows} == {RUN_ID}


def test_out_of_range_bucket_is_dropped():
    first_page = json.loads((PAGES / "usage_page_1.json").read_text())
    assert first_page["data"][0]["start_time"] < START_TIME  # the recording carries a bucket before the range
    rows = _run("openai.usage_completions", Recorded(USAGE_PATH, USAGE_PAGES))
    assert min(row["usage_date"] for row in rows) == START


def test_gateway_base_url_from_credential_metadata_is_used_when_allowed():
    api = Recorded(COSTS_PATH, COSTS_PAGES)
    env = {**PROD_ENV, "PROVIDER_ALLOWED_HOSTS": "gateway.example.com"}
    _run("openai.costs", api, env=env, metadata={"base_url": "https://gateway.example.com/openai/"})
    assert [str(r.url.copy_with(query=None)) for r in api.requests] == [
        "https://gateway.example.com/openai/v1/organization/costs"
    ] * 2 + ["https://gateway.example.com/openai/v1/organization/projects"]


def test_disallowed_base_url_fails_before_any_request():
    api = Recorded(COSTS_PATH, COSTS_PAGES)
    with pytest.raises(TerminalError) as caught:
        _run("openai.costs", api, env=PROD_ENV, metadata={"base_url": "http://169.254.169.254"})
    assert caught.value.code == "BASE_URL_NOT_ALLOWED"
    assert api.requests == []


def _bucket(*results: dict) -> dict:
    return {
        "object": "bucket",
        "start_time": START_TIME,
        "end_time": START_TIME + 86400,
        "results": list(results),
    }


_USAGE_OK = {"input_tokens": 10, "output_tokens": 1, "input_cached_tokens": 0, "num_model_requests": 1}
_COST_OK = {
    "amount": {"value": Decimal("0.5"), "currency": "usd"},
    "line_item": "x, input",
    "project_id": None,
}


@pytest.mark.parametrize(
    ("ps_type", "result"),
    [
        ("openai.usage_completions", {**_USAGE_OK, "input_cached_tokens": 11}),  # more cached than input
        ("openai.usage_completions", {**_USAGE_OK, "input_tokens": None}),
        ("openai.usage_completions", {**_USAGE_OK, "output_tokens": True}),
        ("openai.usage_completions", {**_USAGE_OK, "num_model_requests": -1}),
        ("openai.usage_completions", {**_USAGE_OK, "model": 4}),
        (
            "openai.costs",
            {**_COST_OK, "amount": {"value": 0.5, "currency": "usd"}},
        ),  # a float: precision lost
        ("openai.costs", {**_COST_OK, "amount": {"value": Decimal("NaN"), "currency": "usd"}}),
        ("openai.costs", {**_COST_OK, "amount": {"value": Decimal("1e30"), "currency": "usd"}}),
        ("openai.costs", {**_COST_OK, "amount": {"value": Decimal(1)}}),
        ("openai.costs", {**_COST_OK, "amount": None}),
    ],
)
def test_malformed_results_fail_terminally(ps_type, result):
    ctx = _context(Recorded(COSTS_PATH, COSTS_PAGES))
    with pytest.raises(TerminalError) as caught:
        get_processor(ps_type).transform([_bucket(result)], ctx, ingested_at=INGESTED_AT)
    assert caught.value.code == "PROVIDER_BAD_DATA"


def test_amounts_in_different_currencies_are_never_added():
    ctx = _context(Recorded(COSTS_PATH, COSTS_PAGES))
    eur = {**_COST_OK, "amount": {"value": Decimal(2), "currency": "eur"}}
    rows = get_processor("openai.costs").transform(
        [_bucket(_COST_OK, eur, _COST_OK)], ctx, ingested_at=INGESTED_AT
    )
    assert [(row["currency"], row["amount"]) for row in rows] == [
        ("EUR", Decimal(2)),
        ("USD", Decimal(1)),
    ]


def _projects_api(pages: dict[str | None, dict]):
    """A Projects API answering each `after` cursor with its page, keeping the requests."""
    requests = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("after")])

    return httpx.MockTransport(handler), requests


def _project(pid: str, name: str | None) -> dict:
    return {
        "id": pid,
        "object": "organization.project",
        "name": name,
        "created_at": 1711471533,
        "status": "active",
    }


def test_projects_are_paged_by_last_id_and_a_repeated_cursor_stops():
    first = {"object": "list", "data": [_project("proj_a", "A")], "last_id": "proj_a", "has_more": True}
    second = {"object": "list", "data": [_project("proj_b", None)], "last_id": "proj_b", "has_more": False}
    transport, requests = _projects_api({None: first, "proj_a": second})
    ctx = step_context("openai", START, END, SECRET, transport=transport)
    projects = list(extract_projects(ctx))
    assert [p["id"] for p in projects] == ["proj_a", "proj_b"] and len(requests) == 2
    assert project_names(projects) == {"proj_a": "A"}  # a project without a name has none to give
    looping = {**second, "last_id": "proj_a", "has_more": True}
    transport, _ = _projects_api({None: first, "proj_a": looping})
    with pytest.raises(TerminalError) as caught:
        list(extract_projects(step_context("openai", START, END, SECRET, transport=transport)))
    assert caught.value.code == "PROVIDER_PAGING_LOOP"


@pytest.mark.parametrize(
    "counts",
    [
        # Parts that do not add up to their whole would price a token twice (or not at all).
        {"input_tokens": 100, "input_cached_tokens": 60, "input_cache_write_tokens": 50},
        {"input_tokens": 100, "input_uncached_tokens": 90, "input_cached_tokens": 20},
        {"input_tokens": 100, "input_text_tokens": 80, "input_audio_tokens": 30},
        {"input_tokens": 100, "output_tokens": 10, "output_audio_tokens": 11},
    ],
)
def test_usage_parts_that_do_not_add_up_fail_terminally(counts):
    result = {"output_tokens": 10, "num_model_requests": 1, **counts}
    ctx = _context(Recorded(USAGE_PATH, USAGE_PAGES))
    with pytest.raises(TerminalError) as caught:
        get_processor("openai.usage_completions").transform([_bucket(result)], ctx, ingested_at=INGESTED_AT)
    assert caught.value.code == "PROVIDER_BAD_DATA"


def test_service_tier_and_batch_are_kept_as_the_api_names_them():
    ctx = _context(Recorded(USAGE_PATH, USAGE_PAGES))
    results = [
        {**_USAGE_OK, "batch": batch, "service_tier": tier} for batch, tier in ((False, "Flex"), (True, None))
    ]
    rows = get_processor("openai.usage_completions").transform(
        [_bucket(*results)], ctx, ingested_at=INGESTED_AT
    )
    assert [(row["batch"], row["service_tier"]) for row in rows] == [(False, "flex"), (True, None)]
