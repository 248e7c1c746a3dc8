"""Extract: page through the Anthropic Admin usage (messages) and cost reports, yielding raw daily buckets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

from shared.platform.errors import TerminalError
from shared.providers.anthropic import PROVIDER
from shared.providers.anthropic import constants as api
from shared.providers.contract import StepContext
from shared.providers.kit.egress import provider_base_url
from shared.providers.kit.http import paged_data


def time_window(ctx: StepContext) -> tuple[str, str]:
    """[starting_at, ending_at) as RFC 3339 UTC timestamps covering ctx.start_date..ctx.end_date (inclusive)."""
    if ctx.end_date < ctx.start_date:
        raise TerminalError(
            "INVALID_DATE_RANGE", f"end_date {ctx.end_date} is before start_date {ctx.start_date}"
        )
    start = datetime.combine(ctx.start_date, time.min, tzinfo=UTC)
    # ending_at is exclusive: midnight after the last requested day.
    end = datetime.combine(ctx.end_date + timedelta(days=1), time.min, tzinfo=UTC)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def _auth_headers(ctx: StepContext) -> dict[str, str]:
    secret = ctx.credential.secret
    if not secret or not secret.strip():
        raise TerminalError("PROVIDER_AUTH_FAILED", "the stored Anthropic credential has no Admin API key")
    return {"x-api-key": secret.strip(), "anthropic-version": api.API_VERSION, "Accept": "application/json"}


def _paged_buckets(ctx: StepContext, path: str, group_by: tuple[str, ...], limit: int) -> Iterator[dict]:
    """Every bucket of every page of one report for the context's date range."""
    base_url = provider_base_url(PROVIDER, ctx.credential.metadata, ctx.settings)
    headers = _auth_headers(ctx)
    starting_at, ending_at = time_window(ctx)
    params = [
        ("starting_at", starting_at),
        ("ending_at", ending_at),
        ("bucket_width", api.BUCKET_WIDTH),
        *(("group_by[]", dimension) for dimension in group_by),
        ("limit", str(limit)),
    ]
    yield from paged_data(ctx, base_url + path, params, headers, api.MAX_ATTEMPTS_PER_REQUEST)


def extract_usage_messages(ctx: StepContext) -> Iterator[dict]:
    """Daily Messages usage buckets (by model, workspace, API key, tier, context window) for the date range."""
    return _paged_buckets(ctx, api.USAGE_MESSAGES_PATH, api.USAGE_GROUP_BY, api.USAGE_PAGE_LIMIT)


def extract_cost_report(ctx: StepContext) -> Iterator[dict]:
    """Daily cost buckets (by workspace and description) for the context's date range."""
    return _paged_buckets(ctx, api.COST_REPORT_PATH, api.COSTS_GROUP_BY, api.COSTS_PAGE_LIMIT)
