"""Local stand-in for the Anthropic Admin usage and cost reports: synthetic, deterministic, correctly shaped pages.

Billed amounts are the sandbox's own prices times its usage, so with a price table that agrees, estimated = billed.
"""

from __future__ import annotations

import base64
import json
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from devstack.providers.anthropic.catalogue import (
    GEO_MODELS,
    NAMES,
    PRICES,
    RELEASED,
    TIERS,
    TOKEN_TYPES,
    US_MULTIPLIER,
    WEB_SEARCH_CENTS,
    WORKSPACE_NAMES,
    WORKSPACES,
)

DAY = timedelta(days=1)
USAGE_PATH = "/v1/organizations/usage_report/messages"
COST_PATH = "/v1/organizations/cost_report"
WORKSPACES_PATH = "/v1/organizations/workspaces"
# Per endpoint: the group_by[] values the real API accepts and its page-size ceiling for daily buckets.
ENDPOINTS = {
    USAGE_PATH: (
        {"api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo"},
        31,
    ),
    COST_PATH: ({"workspace_id", "description", "inference_geo"}, 31),
}


class SandboxError(Exception):
    """A request the real API would refuse; answered with Anthropic's error shape."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind

    def body(self) -> dict:
        """The JSON error body, as Anthropic shapes it."""
        return {"type": "error", "error": {"type": self.kind, "message": self.message}}


def day_records(day: date) -> list[dict]:
    """The usage of one UTC day at the finest grain (workspace, key, model, tier, window), seeded by the date."""
    rng = random.Random(f"anthropic-sandbox:{day.isoformat()}")  # str seeds are stable across processes
    records = []
    for w_index, workspace in enumerate(WORKSPACES):
        for model, window in PRICES:
            if day < RELEASED[model] or rng.random() < 0.3:
                continue
            # The default workspace is also used from the Console (no API key): kept, labelled, priced the same.
            key = None if workspace is None and rng.random() < 0.5 else f"apikey_sandbox_{w_index}"
            draw = rng.random()
            tier = next(name for name, upto in TIERS if draw < upto)
            records.append(
                {
                    "workspace_id": workspace,
                    "api_key_id": key,
                    "model": model,
                    "service_tier": tier,
                    "context_window": window,
                    "inference_geo": _geo(model, rng),
                    "uncached_input_tokens": rng.randrange(10_000, 3_000_000),
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": rng.randrange(0, 400_000),
                        "ephemeral_1h_input_tokens": rng.randrange(0, 200_000) if rng.random() < 0.6 else 0,
                    },
                    "cache_read_input_tokens": rng.randrange(0, 2_000_000),
                    "output_tokens": rng.randrange(1_000, 600_000),
                    "server_tool_use": {
                        "web_search_requests": rng.randrange(0, 40) if rng.random() < 0.4 else 0
                    },
                }
            )
    return records


def _geo(model: str, rng: random.Random) -> str:
    if model not in GEO_MODELS:
        return "not_available"
    return "us" if rng.random() < 0.3 else "global"


def _field(record: dict, path: tuple[str, ...]) -> int:
    value = record
    for step in path:
        value = value[step]
    return value


def cost_records(usage: list[dict]) -> list[dict]:
    """Billed cost lines consistent with `usage`: cents as exact decimals, one per token type and web search."""
    lines = []
    for record in usage:
        model, tier, window = record["model"], record["service_tier"], record["context_window"]
        prices = PRICES[(model, window)]
        suffix = (
            (" (Batch)" if tier == "batch" else "")
            + (" (Long Context)" if window == "200k-1M" else "")
            + (" (US)" if record["inference_geo"] == "us" else "")
        )
        for token_type, label, index, path in TOKEN_TYPES:
            tokens = _field(record, path)
            # Priority Tier tokens are billed through the capacity commitment, never in the cost report (its web
            # searches are: they are priced per search whatever the tier).
            if not tokens or tier == "priority":
                continue
            rate = Decimal(prices[index]) / (2 if tier == "batch" else 1)
            rate *= US_MULTIPLIER if record["inference_geo"] == "us" else 1
            lines.append(
                {
                    "workspace_id": record["workspace_id"],
                    "description": f"{NAMES[model]} Usage - {label}{suffix}",
                    "cost_type": "tokens",
                    "model": model,
                    "token_type": token_type,
                    "service_tier": tier,
                    "context_window": window,
                    "inference_geo": record["inference_geo"],
                    "cents": Decimal(tokens) * rate / 10_000,  # tokens x USD per 1M x 100 cents / 1M
                }
            )
        searches = record["server_tool_use"]["web_search_requests"]
        if searches:
            lines.append(
                {
                    "workspace_id": record["workspace_id"],
                    "description": "Web Search",
                    "cost_type": "web_search",
                    "model": None,
                    "token_type": None,
                    "service_tier": None,
                    "context_window": None,
                    "inference_geo": None,
                    "cents": searches * WEB_SEARCH_CENTS,
                }
            )
    return lines


def _grouped_usage(records: list[dict], group_by: list[str]) -> list[dict]:
    dims = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo")
    groups: dict[tuple, dict] = {}
    for record in records:
        key = tuple(record[d] if d in group_by else None for d in dims)
        total = groups.setdefault(
            key,
            {
                "uncached_input_tokens": 0,
                "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
                "cache_read_input_tokens": 0,
                "output_tokens": 0,
                "server_tool_use": {"web_search_requests": 0},
                **dict(zip(dims, key)),
            },
        )
        for field in ("uncached_input_tokens", "cache_read_input_tokens", "output_tokens"):
            total[field] += record[field]
        for ttl in ("ephemeral_1h_input_tokens", "ephemeral_5m_input_tokens"):
            total["cache_creation"][ttl] += record["cache_creation"][ttl]
        total["server_tool_use"]["web_search_requests"] += record["server_tool_use"]["web_search_requests"]
    return [groups[k] for k in sorted(groups, key=lambda k: [(v is not None, str(v)) for v in k])]


def _grouped_costs(lines: list[dict], group_by: list[str]) -> list[dict]:
    # Grouped by description, a result carries what the description names; otherwise those fields are null.
    named = ("description", "cost_type", "model", "token_type", "service_tier", "context_window")
    groups: dict[tuple, Decimal] = {}
    for line in lines:
        key = (
            (line["workspace_id"] if "workspace_id" in group_by else None,)
            + tuple(line[f] if "description" in group_by else None for f in named)
            + (line["inference_geo"] if "inference_geo" in group_by else None,)
        )
        groups[key] = groups.get(key, Decimal(0)) + line["cents"]
    return [
        {
            "currency": "USD",
            "amount": format(groups[k].normalize(), "f"),
            **dict(zip(("workspace_id", *named, "inference_geo"), k)),
        }
        for k in sorted(groups, key=lambda k: [(v is not None, str(v)) for v in k])
    ]


def _timestamp(query: dict, name: str, default: datetime | None = None) -> datetime:
    values = query.get(name)
    if not values:
        if default is None:
            raise SandboxError(400, f"{name}: Field required")
        return default
    try:
        when = datetime.fromisoformat(values[-1])
    except ValueError:
        raise SandboxError(400, f"{name}: Input should be a valid datetime") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _cursor(day: date) -> str:
    return "page_" + base64.urlsafe_b64encode(json.dumps({"d": day.isoformat()}).encode()).decode().rstrip(
        "="
    )


def _read_cursor(token: str) -> date:
    try:
        raw = token.removeprefix("page_")
        return date.fromisoformat(json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))["d"])
    except (ValueError, KeyError, TypeError):
        raise SandboxError(400, "page: invalid page token") from None


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def workspaces_page(query: dict[str, list[str]]) -> dict:
    """One page of the Workspaces API's list (paged by after_id; limit 1..1000, default 20)."""
    try:
        limit = int(query.get("limit", ["20"])[-1])
    except ValueError:
        raise SandboxError(400, "limit: Input should be a valid integer") from None
    if not 1 <= limit <= 1000:
        raise SandboxError(400, "limit: must be between 1 and 1000")
    ids = sorted(WORKSPACE_NAMES)
    after = query.get("after_id", [None])[-1]
    if after is not None and after not in ids:
        raise SandboxError(400, "after_id: invalid cursor")
    shown = ids[ids.index(after) + 1 :] if after else ids
    page, rest = shown[:limit], shown[limit:]
    data = [
        {
            "type": "workspace",
            "id": ident,
            "name": WORKSPACE_NAMES[ident],
            "created_at": "2025-01-06T09:00:00Z",
            "archived_at": None,
            "display_color": "#6C5BB9",
        }
        for ident in page
    ]
    return {
        "data": data,
        "has_more": bool(rest),
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }


def build_page(path: str, query: dict[str, list[str]], now: float | None = None) -> dict:
    """One page of daily buckets of a report (or of the workspace list) for its query, as the real API shapes it."""
    if path == WORKSPACES_PATH:
        return workspaces_page(query)
    if path not in ENDPOINTS:
        raise SandboxError(404, f"Not found: {path}", "not_found_error")
    allowed, max_limit = ENDPOINTS[path]
    start = _timestamp(query, "starting_at")
    end = _timestamp(query, "ending_at", datetime.fromtimestamp(now if now is not None else time.time(), UTC))
    group_by = query.get("group_by[]", [])
    if query.get("bucket_width", ["1d"])[-1] != "1d":
        raise SandboxError(400, "bucket_width: the sandbox serves 1d buckets only")
    try:
        limit = int(query.get("limit", ["7"])[-1])
    except ValueError:
        raise SandboxError(400, "limit: Input should be a valid integer") from None
    if not 1 <= limit <= max_limit:
        raise SandboxError(400, f"limit: must be between 1 and {max_limit} for 1d buckets")
    if unknown := set(group_by) - allowed:
        raise SandboxError(400, f"group_by[]: invalid value(s) {sorted(unknown)}")
    if end <= start:
        raise SandboxError(400, "ending_at must be after starting_at")
    first, last = (
        start.date(),
        (end - timedelta(microseconds=1)).date(),
    )  # daily buckets aligned to UTC midnight
    if page := query.get("page"):
        first = _read_cursor(page[-1])
        if not start.date() <= first <= last:
            raise SandboxError(400, "page: invalid page token")
    days = [first + DAY * n for n in range((last - first).days + 1)]
    shown, rest = days[:limit], days[limit:]
    if path == USAGE_PATH:
        results = lambda d: _grouped_usage(day_records(d), group_by)
    else:
        results = lambda d: _grouped_costs(cost_records(day_records(d)), group_by)
    return {
        "data": [{"starting_at": _iso(d), "ending_at": _iso(d + DAY), "results": results(d)} for d in shown],
        "has_more": bool(rest),
        "next_page": _cursor(rest[0]) if rest else None,
    }


def check_auth(api_key: str | None, version: str | None, expected: str | None = None) -> None:
    """Refuse a request without an Admin API key (sk-ant-admin...) or without the anthropic-version header."""
    if (
        not api_key
        or not api_key.startswith("sk-ant-admin")
        or (expected is not None and api_key != expected)
    ):
        raise SandboxError(401, "invalid x-api-key", "authentication_error")
    if not version:
        raise SandboxError(400, "anthropic-version: header is required")


def answer(path: str, query: dict[str, list[str]], headers) -> tuple[int, dict]:
    """The sandbox's answer to GET `path`: (status, JSON body), an error shaped as Anthropic's when refused."""
    try:
        check_auth(headers.get("x-api-key"), headers.get("anthropic-version"))
        return 200, build_page(path, query)
    except SandboxError as error:
        return error.status, error.body()
