"""Extract: page through the Anthropic Admin usage (messages) and cost reports, yielding raw daily buckets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from shared.providers.anthropic import PROVIDER
from shared.providers.anthropic import constants as api
from shared.providers.contract import StepContext
from shared.providers.kit.report_api import ReportApi, report_items


def _rfc3339_window(start: datetime, end: datetime) -> list[tuple[str, str]]:
    # ending_at is exclusive: the midnight after the last requested day.
    return [
        ("starting_at", start.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("ending_at", end.strftime("%Y-%m-%dT%H:%M:%SZ")),
    ]


REPORTS = ReportApi(
    provider=PROVIDER,
    window=_rfc3339_window,
    auth_headers=lambda secret: {"x-api-key": secret, "anthropic-version": api.API_VERSION},
    group_by_param="group_by[]",
    key_name="Admin API key",
)


def extract_usage_messages(ctx: StepContext) -> Iterator[dict]:
    """Daily Messages usage buckets (by model, workspace, API key, tier, context window) for the date range."""
    return report_items(ctx, REPORTS, api.USAGE_MESSAGES_PATH, api.USAGE_GROUP_BY, api.USAGE_PAGE_LIMIT)


def extract_cost_report(ctx: StepContext) -> Iterator[dict]:
    """Daily cost buckets (by workspace and description) for the context's date range."""
    return report_items(ctx, REPORTS, api.COST_REPORT_PATH, api.COSTS_GROUP_BY, api.COSTS_PAGE_LIMIT)
