"""Admin report APIs (OpenAI's Usage and Costs, Anthropic's usage and cost reports, and their kin): daily buckets
of a date range, grouped by dimensions, paged by cursor. A provider names its differences in one `ReportApi`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from shared.platform.errors import TerminalError
from shared.providers.contract import Provider, StepContext
from shared.providers.kit.egress import provider_base_url
from shared.providers.kit.http import paged_data

MAX_ATTEMPTS_PER_REQUEST = 4  # inside one step; beyond that the step fails transiently and Pub/Sub redelivers


@dataclass(frozen=True)
class ReportApi:
    """How one provider's report endpoints are asked.

    window: the query parameters naming [start, end) (two UTC midnights) in the API's own form.
    auth_headers: the request headers carrying the credential's secret (never logged).
    group_by_param: the name the API gives its repeated grouping parameter ("group_by", "group_by[]").
    key_name: how the provider calls its credential, for the error when none is stored ("admin key").
    """

    provider: Provider
    window: Callable[[datetime, datetime], list[tuple[str, str]]]
    auth_headers: Callable[[str], dict[str, str]]
    group_by_param: str
    key_name: str
    bucket_width: str = "1d"  # the tables are per UTC day
    max_attempts: int = MAX_ATTEMPTS_PER_REQUEST


def day_range(ctx: StepContext) -> tuple[datetime, datetime]:
    """[midnight of start_date, midnight after end_date) in UTC: the step's days as instants."""
    if ctx.end_date < ctx.start_date:
        raise TerminalError(
            "INVALID_DATE_RANGE", f"end_date {ctx.end_date} is before start_date {ctx.start_date}"
        )
    start = datetime.combine(ctx.start_date, time.min, tzinfo=UTC)
    return start, datetime.combine(ctx.end_date + timedelta(days=1), time.min, tzinfo=UTC)


def report_items(
    ctx: StepContext, api: ReportApi, path: str, group_by: tuple[str, ...], limit: int
) -> Iterator[dict]:
    """Every daily bucket of every page of one report endpoint for the step's days."""
    secret = (ctx.credential.secret or "").strip()
    if not secret:
        raise TerminalError(
            "PROVIDER_AUTH_FAILED", f"the stored {api.provider.title} credential has no {api.key_name}"
        )
    base_url = provider_base_url(api.provider, ctx.credential.metadata, ctx.settings)
    params = [
        *api.window(*day_range(ctx)),
        ("bucket_width", api.bucket_width),
        *((api.group_by_param, dimension) for dimension in group_by),
        ("limit", str(limit)),
    ]
    headers = {**api.auth_headers(secret), "Accept": "application/json"}
    yield from paged_data(ctx, base_url + path, params, headers, api.max_attempts)
