"""Extract: page through the OpenAI organization Usage and Costs APIs (raw daily buckets) and its Projects list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from shared.platform.errors import TerminalError
from shared.providers.contract import StepContext
from shared.providers.kit.egress import provider_base_url
from shared.providers.kit.http import get_json, iterate_pages, provider_client
from shared.providers.kit.report_api import MAX_ATTEMPTS_PER_REQUEST, ReportApi, report_items
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
    """Daily completions-usage buckets (by project, model, batch and service tier) for the context's date range."""
    return report_items(ctx, REPORTS, api.USAGE_COMPLETIONS_PATH, api.USAGE_GROUP_BY, api.USAGE_PAGE_LIMIT)


def extract_usage_other(ctx: StepContext) -> Iterator[dict]:
    """Daily buckets of every other usage endpoint, each tagged with its endpoint name, for the date range."""
    for endpoint, (group_by, _) in api.OTHER_USAGE.items():
        path = api.OTHER_USAGE_PREFIX + endpoint
        for bucket in report_items(ctx, REPORTS, path, group_by, api.USAGE_PAGE_LIMIT):
            yield {**bucket, "endpoint": endpoint}


def extract_projects(ctx: StepContext) -> Iterator[dict]:
    """Every project of the organization, archived ones too (past costs name them): `organization.project`
    objects, paged by `after` = the previous page's last_id."""
    url = provider_base_url(PROVIDER, ctx.credential.metadata, ctx.settings) + api.PROJECTS_PATH
    headers = {**REPORTS.auth_headers(ctx.credential.secret.strip()), "Accept": "application/json"}
    params = [("limit", str(api.PROJECTS_PAGE_LIMIT)), ("include_archived", "true")]
    with provider_client(ctx) as client:

        def fetch_page(after: str | None) -> dict:
            page = get_json(
                client,
                url,
                params + ([("after", after)] if after else []),
                headers,
                deadline=ctx.deadline,
                max_attempts=MAX_ATTEMPTS_PER_REQUEST,
                sleep=ctx.sleep,
                request_timeout=ctx.request_timeout,
            )
            return {**page, "next_page": page.get("last_id")}  # this list's cursor is its last id

        for page in iterate_pages(fetch_page):
            if not isinstance(page.get("data"), list):
                raise TerminalError("PROVIDER_BAD_DATA", f"{url} answered a page without a 'data' list")
            yield from page["data"]


def extract_costs(ctx: StepContext) -> Iterator[dict]:
    """Daily cost buckets (grouped by project and line item) for the context's date range, then the projects
    whose names the rows carry."""
    yield from report_items(ctx, REPORTS, api.COSTS_PATH, api.COSTS_GROUP_BY, api.COSTS_PAGE_LIMIT)
    yield from extract_projects(ctx)
