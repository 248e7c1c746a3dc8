"""Golden: every other OpenAI usage endpoint, served by the sandbox in-process → extract → transform → rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs

import httpx

from devstack.providers.openai import sandbox as openai_sandbox
from shared.providers.openai import constants as api
from shared.providers.registry import get_processor
from tests.kit.steps import step_context

START, END = date(2025, 11, 3), date(2025, 11, 5)


def test_every_endpoint_is_pulled_once_and_becomes_rows_of_its_metric():
    requests = []

    def sandbox(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        openai_sandbox.check_auth(request.headers.get("authorization"), None)
        query = parse_qs(request.url.query.decode())
        return httpx.Response(200, json=openai_sandbox.build_page(request.url.path, query, now=2_000_000_000))

    ctx = step_context("openai", START, END, "sk-admin-golden-0123", transport=httpx.MockTransport(sandbox))
    processor = get_processor("openai.usage_other")
    rows = processor.transform(processor.extract(ctx), ctx, ingested_at=datetime(2025, 11, 6, tzinfo=UTC))
    # One page per endpoint (3 days fit in one), with only the dimensions each accepts.
    assert [r.url.path.rsplit("/", 1)[1] for r in requests] == list(api.OTHER_USAGE)
    for request in requests:
        groups = request.url.params.get_list("group_by")
        assert groups == list(api.OTHER_USAGE[request.url.path.rsplit("/", 1)[1]][0])
    assert {r["endpoint"] for r in rows} == set(api.OTHER_USAGE)
    assert all(r["metric"] == api.OTHER_USAGE[r["endpoint"]][1] and r["quantity"] > 0 for r in rows)
    assert {r["usage_date"] for r in rows} == {START, date(2025, 11, 4), END}
    images = [r for r in rows if r["endpoint"] == "images"]
    assert images and all(r["detail"].count("/") == 1 and r["model"] for r in images)
    stores = [r for r in rows if r["endpoint"] == "vector_stores"]
    assert stores and all(r["model"] is None and r["num_model_requests"] is None for r in stores)
    keys = [(r["usage_date"], r["endpoint"], r["project_id"], r["model"], r["detail"]) for r in rows]
    assert len(keys) == len(set(keys))  # one row per key: what the load's one-row-per-key contract needs
