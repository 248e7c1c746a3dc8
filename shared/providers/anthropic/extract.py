"""Extract: page through the Anthropic Admin usage (messages) and cost reports, yielding raw daily buckets."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime

from shared.providers.anthropic import PROVIDER
from shared.providers.anthropic import constants as api
from shared.providers.anthropic.workspaces import workspace_names
from shared.providers.contract import StepContext
from shared.providers.kit.egress import provider_base_url
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
    """Daily cost buckets (by workspace, description and inference geo) for the context's date range, each result
    with its workspace's `workspace_name` from the Workspaces API (the report gives ids only)."""
    buckets = report_items(ctx, REPORTS, api.COST_REPORT_PATH, api.COSTS_GROUP_BY, api.COSTS_PAGE_LIMIT)
    first = next(buckets, None)  # the report's own errors (a refused key) come first, before the names
    if first is None:
        return
    base_url = provider_base_url(PROVIDER, ctx.credential.metadata, ctx.settings)
    headers = {**REPORTS.auth_headers((ctx.credential.secret or "").strip()), "Accept": "application/json"}
    names = workspace_names(ctx, base_url, headers, REPORTS.max_attempts)
    for bucket in itertools.chain([first], buckets):
        results = bucket.get("results")
        if isinstance(results, list):
            bucket = {**bucket, "results": [_named(result, names) for result in results]}
        yield bucket


def _named(result: object, names: dict[str, str]) -> object:
    # A malformed result is left as it is, for the transform to refuse with its reason.
    if not isinstance(result, dict):
        return result
    return {**result, "workspace_name": names.get(result.get("workspace_id"))}
