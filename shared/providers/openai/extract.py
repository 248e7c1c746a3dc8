"""Extract: page through the OpenAI organization Usage and Costs APIs, yielding raw daily buckets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

from shared.platform.errors import TerminalError
from shared.providers.contract import StepContext
from shared.providers.kit.egress import provider_base_url
from shared.providers.kit.http import paged_data
from shared.providers.openai import PROVIDER
from shared.providers.openai import constants as api


def time_window(ctx: StepContext) -> tuple[int, int]:
    """[start_time, end_time) in unix seconds covering ctx.start_date..ctx.end_date (inclusive) in UTC."""
    if ctx.end_date < ctx.start_date:
        raise TerminalError(
            "INVALID_DATE_RANGE", f"end_date {ctx.end_date} is before start_date {ctx.start_date}"
        )
    start = datetime.combine(ctx.start_date, time.min, tzinfo=UTC)
    # The API's end_time is exclusive: midnight after the last requested day.
    end = datetime.combine(ctx.end_date + timedelta(days=1), time.min, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


def _auth_headers(ctx: StepContext) -> dict[str, str]:
    secret = ctx.credential.secret
    if not secret or not secret.strip():
        raise TerminalError("PROVIDER_AUTH_FAILED", "the stored OpenAI credential has no admin key")
    return {"Authorization": f"Bearer {secret.strip()}", "Accept": "application/json"}


def _paged_buckets(ctx: StepContext, path: str, group_by: tuple[str, ...], limit: int) -> Iterator[dict]:
    """Every bucket of every page of one endpoint for the context's date range."""
    base_url = provider_base_url(PROVIDER, ctx.credential.metadata, ctx.settings)
    headers = _auth_headers(ctx)
    start_time, end_time = time_window(ctx)
    params = [
        ("start_time", str(start_time)),
        ("end_time", str(end_time)),
        ("bucket_width", api.BUCKET_WIDTH),
        *(("group_by", dimension) for dimension in group_by),
        ("limit", str(limit)),
    ]
    yield from paged_data(ctx, base_url + path, params, headers, api.MAX_ATTEMPTS_PER_REQUEST)


def extract_usage_completions(ctx: StepContext) -> Iterator[dict]:
    """Daily completions-usage buckets (grouped by project and model) for the context's date range."""
    return _paged_buckets(ctx, api.USAGE_COMPLETIONS_PATH, api.USAGE_GROUP_BY, api.USAGE_PAGE_LIMIT)


def extract_usage_other(ctx: StepContext) -> Iterator[dict]:
    """Daily buckets of every other usage endpoint, each tagged with its endpoint name, for the date range."""
    for endpoint, (group_by, _) in api.OTHER_USAGE.items():
        path = api.OTHER_USAGE_PREFIX + endpoint
        for bucket in _paged_buckets(ctx, path, group_by, api.USAGE_PAGE_LIMIT):
            yield {**bucket, "endpoint": endpoint}


def extract_costs(ctx: StepContext) -> Iterator[dict]:
    """Daily cost buckets (grouped by project and line item) for the context's date range."""
    return _paged_buckets(ctx, api.COSTS_PATH, api.COSTS_GROUP_BY, api.COSTS_PAGE_LIMIT)
