"""Extract: page through the OpenAI organization Usage and Costs APIs, yielding raw daily buckets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from shared.providers.contract import StepContext
from shared.providers.kit.report_api import ReportApi, report_items
from shared.providers.openai import PROVIDER
from shared.providers.openai import constants as api


def _unix_window(start: datetime, end: datetime) -> list[tuple[str, str]]:
    # end_time is exclusive: the midnight after the last requested day.
    return [("start_time", str(int(start.timestamp()))), ("end_time", str(int(end.timestamp())))]


REPORTS = ReportApi(
    provider=PROVIDER,
    window=_unix_window,
    auth_headers=lambda secret: {"Authorization": f"Bearer {secret}"},
    group_by_param="group_by",
    key_name="admin key",
)


def extract_usage_completions(ctx: StepContext) -> Iterator[dict]:
    """Daily completions-usage buckets (grouped by project and model) for the context's date range."""
    return report_items(ctx, REPORTS, api.USAGE_COMPLETIONS_PATH, api.USAGE_GROUP_BY, api.USAGE_PAGE_LIMIT)


def extract_usage_other(ctx: StepContext) -> Iterator[dict]:
    """Daily buckets of every other usage endpoint, each tagged with its endpoint name, for the date range."""
    for endpoint, (group_by, _) in api.OTHER_USAGE.items():
        path = api.OTHER_USAGE_PREFIX + endpoint
        for bucket in report_items(ctx, REPORTS, path, group_by, api.USAGE_PAGE_LIMIT):
            yield {**bucket, "endpoint": endpoint}


def extract_costs(ctx: StepContext) -> Iterator[dict]:
    """Daily cost buckets (grouped by project and line item) for the context's date range."""
    return report_items(ctx, REPORTS, api.COSTS_PATH, api.COSTS_GROUP_BY, api.COSTS_PAGE_LIMIT)
