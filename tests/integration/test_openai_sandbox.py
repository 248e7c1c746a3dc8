"""The OpenAI sandbox served on loopback, read by the real extract and transform code."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from devstack.providers.openai import LOCAL
from devstack.providers.openai.records import PRICES, PROJECTS, RATES, line_item
from devstack.providers.openai.sandbox import ARCHIVED
from devstack.standins.sandbox import start_sandbox
from shared.platform.errors import TerminalError
from shared.platform.settings import settings_from_env
from shared.providers.contract import Credential, StepContext
from shared.providers.registry import get_processor

KEY = "sk-sandbox-test-0123456789"
START, END = date(2024, 10, 1), date(2024, 12, 4)  # 65 days: three usage pages of 31, one costs page


@pytest.fixture(scope="module")
def sandbox_url():
    server, port = start_sandbox("127.0.0.1", 0, [LOCAL.sandbox])
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


class CountingTransport(httpx.HTTPTransport):
    """The real network transport, counting requests (to check the fewest pages are asked for)."""

    def __init__(self):
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


def _context(base_url: str, secret: str = KEY, **kwargs) -> StepContext:
    env = {
        "GCP_PROJECT_ID": "p",
        "KMS_KEY_NAME": "k",
        "ENVIRONMENT": "local",
        "OPENAI_API_BASE_URL": base_url,
    }
    return StepContext(
        org_slug="acmecorp",
        run_id="run_sandbox",
        start_date=kwargs.get("start", START),
        end_date=kwargs.get("end", END),
        credential=Credential("openai", secret, kwargs.get("metadata", {})),
        settings=settings_from_env(env),
        deadline=time.monotonic() + 30,
        http_transport=kwargs.get("transport"),
    )


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# The costs step also lists the projects (one page): their names are not in the Costs API's results.
@pytest.mark.parametrize(("ps_type", "pages"), [("openai.usage_completions", 3), ("openai.costs", 2)])
def test_paging_returns_every_bucket_once_in_the_fewest_pages(sandbox_url, ps_type, pages):
    transport = CountingTransport()
    items = list(get_processor(ps_type).extract(_context(sandbox_url, transport=transport)))
    buckets = [item for item in items if item["object"] == "bucket"]
    first = int(datetime.combine(START, datetime.min.time(), tzinfo=UTC).timestamp())
    assert [bucket["start_time"] for bucket in buckets] == [
        first + 86400 * n for n in range(len(_days(START, END)))
    ]
    assert len(transport.requests) == pages


def test_usage_and_costs_are_consistent_and_deterministic(sandbox_url):
    ctx = _context(sandbox_url, start=date(2026, 11, 2), end=date(2026, 11, 8))
    usage_proc, costs_proc = get_processor("openai.usage_completions"), get_processor("openai.costs")
    usage = usage_proc.transform(usage_proc.extract(ctx), ctx)
    costs = costs_proc.transform(costs_proc.extract(ctx), ctx)
    assert {row["project_id"] for row in usage} <= set(PROJECTS) and len({row["model"] for row in usage}) >= 3
    assert any(row["input_cached_tokens"] > 0 for row in usage)
    # Every tier, and every kind of token, shows up in a week.
    tiers = {"flex": "flex", "priority": "priority", "default": "standard"}
    assert {"batch" if row["batch"] else tiers[row["service_tier"]] for row in usage} == set(
        tiers.values()
    ) | {"batch"}
    for counter in ("input_cache_write_tokens", "input_audio_tokens", "output_image_tokens"):
        assert any(row[counter] > 0 for row in usage), counter
    assert {row["project_name"] for row in costs} == set(PROJECTS.values())
    billed = {(r["cost_date"], r["project_id"], r["line_item"]): r for r in costs}
    for row in usage:  # every billed line equals its tokens at the sandbox's prices
        tier = "batch" if row["batch"] else tiers[row["service_tier"]]
        for rate, price in PRICES[row["model"]][tier].items():
            tokens = row[RATES[rate][2]]
            line = billed.get((row["usage_date"], row["project_id"], line_item(row["model"], rate, tier)))
            expected = (Decimal(tokens) * price / 1_000_000).quantize(Decimal("1e-9"))
            assert (line["amount"] if line else Decimal("0E-9")) == expected, (row, rate)
            assert line is None or line["quantity"] == tokens
    assert costs_proc.transform(costs_proc.extract(ctx), ctx, ingested_at=costs[0]["x_ingested_at"]) == costs


def test_credential_base_url_on_loopback_is_followed_in_local(sandbox_url):
    ctx = _context("http://127.0.0.1:9", metadata={"base_url": sandbox_url})  # default points nowhere
    items = list(get_processor("openai.costs").extract(ctx))
    assert sum(item["object"] == "bucket" for item in items) == len(_days(START, END))
    assert [item["id"] for item in items if item["object"] == "organization.project"] == [
        *PROJECTS,
        *ARCHIVED,
    ]


def test_bad_key_is_refused_with_openais_error_shape(sandbox_url):
    response = httpx.get(
        f"{sandbox_url}/v1/organization/costs",
        params={"start_time": 1730419200},
        headers={"Authorization": "Bearer not-a-key"},
    )
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert httpx.get(f"{sandbox_url}/v1/organization/costs", params={"start_time": 1}).status_code == 401


def test_bad_key_fails_the_extract_terminally_without_leaking_it(sandbox_url):
    with pytest.raises(TerminalError) as caught:
        list(
            get_processor("openai.usage_completions").extract(_context(sandbox_url, secret="nope-0123456789"))
        )
    assert caught.value.code == "PROVIDER_AUTH_FAILED"
    assert "nope-0123456789" not in caught.value.message


def test_invalid_requests_are_rejected_like_the_real_api(sandbox_url):
    auth = {"Authorization": f"Bearer {KEY}"}
    url = f"{sandbox_url}/v1/organization/usage/completions"
    for params in (
        {},
        {"start_time": 0, "limit": 32},
        {"start_time": 0, "group_by": "line_item"},
        {"start_time": 0, "page": "page_garbage"},
        {"start_time": 0, "bucket_width": "1h"},
    ):
        response = httpx.get(url, params=params, headers=auth)
        assert response.status_code == 400, params
        assert response.json()["error"]["type"] == "invalid_request_error"
