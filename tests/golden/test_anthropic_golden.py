"""Golden tests: recorded-shape Anthropic Admin API pages → extract (via httpx.MockTransport) → transform → rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from devstack.providers.anthropic import sandbox as anthropic_sandbox
from shared.platform.errors import TerminalError
from shared.providers.contract import StepContext
from shared.providers.registry import get_processor
from tests.kit.golden import jsonable
from tests.kit.recorded import RecordedApi
from tests.kit.steps import step_context

GOLDEN = Path(__file__).parent / "anthropic"
PAGES = Path(__file__).resolve().parents[1] / "providers" / "anthropic" / "pages"
START, END = date(2025, 11, 3), date(2025, 11, 4)
SECRET = "sk-ant-admin01-golden-0123456789abcdef"
INGESTED_AT = datetime(2025, 11, 5, 6, 0, tzinfo=UTC)
USAGE_PATH, COSTS_PATH = "/v1/organizations/usage_report/messages", "/v1/organizations/cost_report"
WORKSPACES_PATH = "/v1/organizations/workspaces"
USAGE_PAGES, COSTS_PAGES = (
    ["usage_page_1.json", "usage_page_2.json"],
    ["costs_page_1.json", "costs_page_2.json"],
)


class Recorded(RecordedApi):
    """One report's recorded pages, with the cursors in the order the pages name them."""

    def __init__(self, path: str, page_files: list[str], failures: list[httpx.Response] | None = None):
        # The cost step also reads the workspace names (one recorded page of the Workspaces API).
        pages = {
            path: [PAGES / name for name in page_files],
            WORKSPACES_PATH: [PAGES / "workspaces_page_1.json"],
        }
        super().__init__(pages, failures)
        self.path = path
        self.cursors = [None] + [json.loads((PAGES / n).read_text())["next_page"] for n in page_files[:-1]]


def _context(handler, start=START, end=END, seconds=30, sleep=None) -> StepContext:
    options = {"sleep": sleep} if sleep else {}
    return step_context(
        "anthropic", start, end, SECRET, transport=httpx.MockTransport(handler), seconds=seconds, **options
    )


def _run(ps_type: str, api, **kwargs) -> list[dict]:
    processor = get_processor(ps_type)
    ctx = _context(api, **kwargs)
    return processor.transform(processor.extract(ctx), ctx, ingested_at=INGESTED_AT)


def _expected(name: str) -> list[dict]:
    return json.loads((GOLDEN / name).read_text())


def _assert_queries(api: Recorded, group_by: list[str]) -> None:
    requests = api.requests_to(api.path)
    assert len(requests) == len(api.cursors)  # one request per page: nothing fetched twice
    for request, cursor in zip(requests, api.cursors, strict=True):
        params = request.url.params
        assert (
            params["starting_at"] == "2025-11-03T00:00:00Z" and params["ending_at"] == "2025-11-05T00:00:00Z"
        )
        assert params["bucket_width"] == "1d" and params["limit"] == "31"
        assert params.get_list("group_by[]") == group_by
        assert params.get("page") == cursor
        assert request.headers["x-api-key"] == SECRET and request.headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in request.headers
        assert request.url.host == "api.anthropic.com" and request.url.scheme == "https"


def test_usage_pages_become_expected_rows():
    api = Recorded(USAGE_PATH, USAGE_PAGES)
    rows = _run("anthropic.usage_messages", api)
    _assert_queries(
        api, ["model", "workspace_id", "api_key_id", "service_tier", "context_window", "inference_geo"]
    )
    assert jsonable(rows) == _expected("expected_usage_rows.json")


def test_nulls_are_kept_and_labelled_and_both_cache_ttls_are_separate():
    rows = _run("anthropic.usage_messages", Recorded(USAGE_PATH, USAGE_PAGES))
    default = [r for r in rows if r["workspace_id"] is None]
    assert default and {r["workspace_label"] for r in default} == {"default"}
    console = [r for r in rows if r["api_key_id"] is None]
    assert console and {r["api_key_label"] for r in console} == {"console"}
    first = next(r for r in rows if r["workspace_label"] == "default" and r["api_key_label"] == "console")
    assert (first["cache_creation_5m_input_tokens"], first["cache_creation_1h_input_tokens"]) == (
        40000,
        10000,
    )
    # A null cache_creation / server_tool_use object means none happened (older responses omit them).
    haiku = next(r for r in rows if r["model"] == "claude-haiku-4-5-20251001")
    assert haiku["cache_creation_5m_input_tokens"] == haiku["web_search_requests"] == 0


def test_cost_pages_become_expected_rows_in_dollars_to_the_cent():
    api = Recorded(COSTS_PATH, COSTS_PAGES)
    rows = _run("anthropic.cost_report", api)
    _assert_queries(api, ["workspace_id", "description", "inference_geo"])
    assert jsonable(rows) == _expected("expected_costs_rows.json")
    amounts = {(r["cost_date"], r["description"]): r["amount"] for r in rows}
    # The API's amount is cents as a decimal string: "123.45" is $1.2345, never through float.
    assert amounts[(START, "Claude Haiku 4.5 Usage - Input Tokens (Batch)")] == Decimal("0.500000500")
    assert amounts[(END, "Claude Sonnet 4.5 Usage - Input Tokens")] == Decimal("0.000021000")
    assert amounts[(START, "Web Search")] == Decimal("0.120000000")
    assert sum(amounts.values()) == Decimal("3.891164000")
    assert all(type(a) is Decimal and a.as_tuple().exponent == -9 for a in amounts.values())


def test_429_with_retry_after_then_success_gives_the_same_rows():
    throttled = httpx.Response(
        429,
        headers={"Retry-After": "1"},
        json={
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "Number of requests has exceeded your rate limit",
            },
        },
    )
    unavailable = httpx.Response(
        529, json={"type": "error", "error": {"type": "overloaded_error", "message": "x"}}
    )
    api = Recorded(COSTS_PATH, COSTS_PAGES, failures=[throttled, unavailable])
    waits: list[float] = []
    rows = _run("anthropic.cost_report", api, sleep=waits.append)
    assert waits[0] >= 1.0  # the Retry-After was honoured (the step's own sleep, not the wall clock)
    assert len(api.requests) == len(COSTS_PAGES) + 1 + 2  # the pages, the workspaces, the two failures
    assert jsonable(rows) == _expected("expected_costs_rows.json")


def test_a_repeated_page_token_is_an_error_not_a_loop():
    page = json.loads((PAGES / "usage_page_1.json").read_text())  # has_more with the same cursor, forever

    def handler(request):
        return httpx.Response(200, json={**page, "next_page": "page_same"})

    with pytest.raises(TerminalError) as caught:
        _run("anthropic.usage_messages", handler)
    assert caught.value.code == "PROVIDER_PAGING_LOOP"


def test_a_90_day_range_costs_three_pages_per_report():
    requests = []

    def sandbox(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        query = parse_qs(request.url.query.decode())
        body = anthropic_sandbox.build_page(
            request.url.path, query, now=datetime(2026, 1, 1, tzinfo=UTC).timestamp()
        )
        return httpx.Response(200, json=body)

    start, end = date(2025, 9, 1), date(2025, 11, 29)  # 90 days
    for ps_type in ("anthropic.usage_messages", "anthropic.cost_report"):
        requests.clear()
        rows = _run(ps_type, sandbox, start=start, end=end)
        reports = [r for r in requests if "/usage_report/" in r.url.path or "/cost_report" in r.url.path]
        assert len(reports) == 3 and rows
        key = "usage_date" if ps_type.endswith("messages") else "cost_date"
        assert min(r[key] for r in rows) == start and max(r[key] for r in rows) == end


@pytest.mark.parametrize(
    ("ps_type", "result"),
    [
        ("anthropic.cost_report", {"currency": "USD", "amount": 1.5}),  # a float: precision already lost
        ("anthropic.cost_report", {"currency": "USD", "amount": "NaN"}),
        ("anthropic.cost_report", {"amount": "1"}),
        (
            "anthropic.usage_messages",
            {"uncached_input_tokens": -1, "cache_read_input_tokens": 0, "output_tokens": 0},
        ),
        ("anthropic.usage_messages", {"cache_read_input_tokens": 0, "output_tokens": 0}),
    ],
)
def test_malformed_results_fail_terminally(ps_type, result):
    bucket = {"starting_at": "2025-11-03T00:00:00Z", "ending_at": "2025-11-04T00:00:00Z", "results": [result]}
    ctx = _context(Recorded(COSTS_PATH, COSTS_PAGES))
    with pytest.raises(TerminalError) as caught:
        get_processor(ps_type).transform([bucket], ctx, ingested_at=INGESTED_AT)
    assert caught.value.code == "PROVIDER_BAD_DATA"


def test_a_bucket_that_is_not_a_utc_day_is_refused():
    bucket = {"starting_at": "2025-11-03T05:00:00Z", "results": []}
    with pytest.raises(TerminalError):
        get_processor("anthropic.usage_messages").transform(
            [bucket], _context(Recorded(USAGE_PATH, USAGE_PAGES))
        )


def test_workspace_names_follow_after_id_and_a_repeated_cursor_is_refused():
    """GET /v1/organizations/workspaces pages by after_id = the previous page's last_id (has_more says when)."""
    from shared.providers.anthropic.workspaces import workspace_names

    def workspace(ident, name):
        return {"type": "workspace", "id": ident, "name": name, "archived_at": None, "created_at": "x"}

    pages = {
        None: {
            "data": [workspace("wrkspc_1", "One")],
            "has_more": True,
            "first_id": "wrkspc_1",
            "last_id": "wrkspc_1",
        },
        "wrkspc_1": {"data": [workspace("wrkspc_2", "Two")], "has_more": False, "last_id": "wrkspc_2"},
    }
    seen = []

    def api(request):
        seen.append(dict(request.url.params))
        return httpx.Response(200, json=pages[request.url.params.get("after_id")])

    base, headers = "https://api.anthropic.com", {"x-api-key": SECRET}
    assert workspace_names(_context(api), base, headers, 1) == {"wrkspc_1": "One", "wrkspc_2": "Two"}
    assert [p.get("after_id") for p in seen] == [None, "wrkspc_1"]
    assert all(
        p["include_archived"] == "true" and p["limit"] == "1000" for p in seen
    )  # archived ones had costs

    pages["wrkspc_1"] = {**pages[None]}  # hands back the cursor it was given: a loop
    with pytest.raises(TerminalError) as caught:
        workspace_names(_context(api), base, headers, 1)
    assert caught.value.code == "PROVIDER_PAGING_LOOP"
    pages[None] = {"data": [{"id": "wrkspc_1"}], "has_more": False}  # no name
    with pytest.raises(TerminalError) as caught:
        workspace_names(_context(api), base, headers, 1)
    assert caught.value.code == "PROVIDER_BAD_DATA"
