"""The organisation's workspace names (Admin API GET /v1/organizations/workspaces), for FOCUS SubAccountName."""

from __future__ import annotations

from shared.platform.errors import TerminalError
from shared.providers.contract import StepContext
from shared.providers.kit.http import get_json, provider_client

WORKSPACES_PATH = "/v1/organizations/workspaces"
PAGE_LIMIT = 1000  # the API's ceiling: one page holds most organisations' workspaces
MAX_PAGES = 100


def workspace_names(ctx: StepContext, base_url: str, headers: dict, max_attempts: int) -> dict[str, str]:
    """workspace id → name, archived workspaces included (their past costs are still reported). Paged by
    `after_id` = the previous page's `last_id`; a cursor seen before is refused, as for the reports."""
    names: dict[str, str] = {}
    seen: set[str] = set()
    params = [("include_archived", "true"), ("limit", str(PAGE_LIMIT))]
    with provider_client(ctx) as client:
        for _ in range(MAX_PAGES):
            page = get_json(
                client,
                base_url + WORKSPACES_PATH,
                params,
                headers,
                deadline=ctx.deadline,
                max_attempts=max_attempts,
                sleep=ctx.sleep,
                request_timeout=ctx.request_timeout,
            )
            names.update(_page_names(page))
            cursor = page.get("last_id")
            if not page.get("has_more"):
                return names
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                raise TerminalError("PROVIDER_PAGING_LOOP", "the workspaces list repeated or lost its cursor")
            seen.add(cursor)
            params = [*params[:2], ("after_id", cursor)]
    raise TerminalError("PROVIDER_PAGING_LOOP", f"more than {MAX_PAGES} pages of workspaces; stopping")


def _page_names(page: dict) -> dict[str, str]:
    items = page.get("data")
    if not isinstance(items, list):
        raise TerminalError("PROVIDER_BAD_DATA", f"{WORKSPACES_PATH} answered a page without a 'data' list")
    names = {}
    for item in items:
        ident, name = (item.get("id"), item.get("name")) if isinstance(item, dict) else (None, None)
        if not isinstance(ident, str) or not isinstance(name, str):
            raise TerminalError("PROVIDER_BAD_DATA", f"a workspace without a string id and name: {item!r}")
        names[ident] = name
    return names
