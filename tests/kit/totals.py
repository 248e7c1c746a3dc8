"""What the OpenAI sandbox reports for a day or a range, read straight from it (independent of the pipeline), and
what an org's tables hold: the two sides of every exact-totals assertion."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal

import httpx

from shared.platform.settings import Settings

COSTS_PATH = "/v1/organization/costs"
USAGE_PATH = "/v1/organization/usage/completions"
SANDBOX_KEY = "sk-admin-test"  # the sandbox answers any key shaped like OpenAI's


def _day_start(day: date) -> int:
    return int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())


def _sandbox_results(stack, path: str, day: date, group_by: list[str]) -> list[dict]:
    """One day's results of an endpoint, in one page."""
    start = _day_start(day)
    params = {"start_time": start, "end_time": start + 86_400, "bucket_width": "1d", "limit": 31}
    body = httpx.get(
        f"{stack.sandbox_url}{path}",
        params={**params, "group_by": group_by},
        headers={"Authorization": f"Bearer {SANDBOX_KEY}"},
        timeout=10,
    ).text
    page = json.loads(body, parse_float=Decimal)
    assert not page["has_more"]
    return [r for bucket in page["data"] for r in bucket["results"]]


def sandbox_costs(stack, day: date) -> tuple[int, Decimal]:
    """Rows and total the provider bills for a day."""
    results = _sandbox_results(stack, COSTS_PATH, day, ["project_id", "line_item"])
    return len(results), sum((r["amount"]["value"] for r in results), Decimal(0))


def sandbox_usage(stack, day: date) -> tuple[int, int]:
    """Distinct (project, model, batch, service tier) and input tokens the provider reports for a day: the grain
    of openai_usage_daily (spelled out here, not read from the pipeline's constants)."""
    dims = ["project_id", "model", "batch", "service_tier"]
    results = _sandbox_results(stack, USAGE_PATH, day, dims)
    return len({tuple(r[d] for d in dims) for r in results}), sum(r["input_tokens"] for r in results)


def sandbox_cost_total(stack, start: str, end: str) -> Decimal:
    """What the provider bills for the range (ISO dates, inclusive), every page, exact."""
    params = {
        "start_time": _day_start(date.fromisoformat(start)),
        "end_time": _day_start(date.fromisoformat(end)) + 86_400,
        "bucket_width": "1d",
        "limit": 180,
    }
    total, page = Decimal(0), None
    while True:
        body = httpx.get(
            f"{stack.sandbox_url}{COSTS_PATH}",
            params={**params, **({"page": page} if page else {})},
            headers={"Authorization": f"Bearer {SANDBOX_KEY}"},
            timeout=10,
        ).text
        data = json.loads(body, parse_float=Decimal)
        total += sum(r["amount"]["value"] for b in data["data"] for r in b["results"])
        if not data["has_more"]:
            return total
        page = data["next_page"]


def table_costs(settings: Settings, warehouse, org_slug: str, day: date) -> tuple[int, Decimal]:
    """Rows and total of the org's openai_costs_daily for a day."""
    table = f"{settings.project}.{settings.org_dataset(org_slug)}.openai_costs_daily"
    row = warehouse.query(
        f"SELECT COUNT(*) AS n, SUM(amount) AS s FROM `{table}` WHERE cost_date = @day", {"day": day}
    )[0]
    return row["n"], row["s"] or Decimal(0)


def table_usage(settings: Settings, warehouse, org_slug: str, day: date) -> tuple[int, int]:
    """Rows and input tokens of the org's openai_usage_daily for a day."""
    table = f"{settings.project}.{settings.org_dataset(org_slug)}.openai_usage_daily"
    row = warehouse.query(
        f"SELECT COUNT(*) AS n, SUM(input_tokens) AS t FROM `{table}` WHERE usage_date = @day", {"day": day}
    )[0]
    return row["n"], row["t"] or 0


def table_facts(settings: Settings, warehouse, org_slug: str) -> tuple:
    """Usage rows and input tokens, costs rows and total, over all of the org's OpenAI tables."""
    dataset = f"{settings.project}.{settings.org_dataset(org_slug)}"
    usage = warehouse.query(
        f"SELECT COUNT(*) AS n, SUM(input_tokens) AS t FROM `{dataset}.openai_usage_daily`"
    )[0]
    costs = warehouse.query(f"SELECT COUNT(*) AS n, SUM(amount) AS s FROM `{dataset}.openai_costs_daily`")[0]
    return usage["n"], usage["t"], costs["n"], costs["s"]
