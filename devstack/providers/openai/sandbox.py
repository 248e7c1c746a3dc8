"""Local stand-in for the OpenAI organization Usage/Costs APIs: synthetic, deterministic, correctly shaped pages
(served under /v1/organization/ by devstack.standins.sandbox)."""

from __future__ import annotations

import base64
import json
import random
import time

from devstack.providers.openai.records import COUNTERS, PROJECTS, cost_records, day_records

DAY = 86_400
# Spelled out here rather than imported from the provider: a stand-in that shares the client's constants
# would agree with a wrong client by construction.
USAGE_PATH = "/v1/organization/usage/completions"
COSTS_PATH = "/v1/organization/costs"
PROJECTS_PATH = "/v1/organization/projects"
# An archived project: listed only with include_archived=true, as the real API does.
ARCHIVED = {"proj_sandbox_pilot": "Pilot (archived)"}
# Per endpoint: the group_by values the real API accepts and its page-size ceiling for daily buckets.
ENDPOINTS = {
    USAGE_PATH: ({"project_id", "user_id", "api_key_id", "model", "batch", "service_tier"}, 31),
    COSTS_PATH: ({"project_id", "line_item"}, 180),
}
_KEYED = {"project_id", "user_id", "api_key_id", "model"}
# The other usage endpoints: path → (group_by accepted, the counters of a result, the models it serves).
OTHER_ENDPOINTS = {
    "/v1/organization/usage/embeddings": (
        _KEYED,
        ("input_tokens", "num_model_requests"),
        ("text-embedding-3-small",),
    ),
    "/v1/organization/usage/moderations": (
        _KEYED,
        ("input_tokens", "num_model_requests"),
        ("omni-moderation-2024-09-26",),
    ),
    "/v1/organization/usage/images": (
        _KEYED | {"size", "source"},
        ("images", "num_model_requests"),
        ("gpt-image-1", "dall-e-3"),
    ),
    "/v1/organization/usage/audio_speeches": (_KEYED, ("characters", "num_model_requests"), ("tts-1",)),
    "/v1/organization/usage/audio_transcriptions": (
        _KEYED,
        ("seconds", "num_model_requests"),
        ("whisper-1",),
    ),
    "/v1/organization/usage/vector_stores": ({"project_id"}, ("usage_bytes",), (None,)),
    "/v1/organization/usage/code_interpreter_sessions": ({"project_id"}, ("num_sessions",), (None,)),
    "/v1/organization/usage/web_search_calls": (
        {"project_id", "user_id", "api_key_id"},
        ("num_requests",),
        (None,),
    ),
    "/v1/organization/usage/file_search_calls": (
        {"project_id", "user_id", "api_key_id", "vector_store_id"},
        ("num_requests",),
        (None,),
    ),
}
ENDPOINTS.update({path: (groups, 31) for path, (groups, _, _) in OTHER_ENDPOINTS.items()})
OTHER_DIMS = ("project_id", "user_id", "api_key_id", "model", "size", "source", "vector_store_id")
USAGE_DIMS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")


class SandboxError(Exception):
    """A request the real API would refuse; answered with OpenAI's error shape."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    def body(self) -> dict:
        """The JSON error body, as OpenAI shapes it."""
        kind = "invalid_request_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


def _group(
    records: list[dict], group_by: list[str], dims: tuple[str, ...], sums: tuple[str, ...]
) -> list[dict]:
    """Records summed over every dimension not in `group_by` (those come back null, as the real API does)."""
    groups: dict[tuple, dict] = {}
    for record in records:
        key = tuple(record[d] if d in group_by else None for d in dims)
        total = groups.setdefault(key, {**dict(zip(dims, key)), **dict.fromkeys(sums, 0)})
        for field in sums:
            total[field] += record[field]
    return [groups[key] for key in sorted(groups, key=lambda k: [(v is not None, str(v)) for v in k])]


def usage_results(day_start: int, group_by: list[str]) -> list[dict]:
    """The completions usage results of one daily bucket."""
    grouped = _group(day_records(day_start), group_by, USAGE_DIMS, COUNTERS)
    return [{"object": "organization.usage.completions.result", **row} for row in grouped]


def cost_results(day_start: int, group_by: list[str]) -> list[dict]:
    """The cost results of one daily bucket; amounts are JSON numbers with up to 9 decimals. Grouped by line item,
    each carries its quantity (tokens). Project names are the Projects API's (projects_page), as documented."""
    lines = cost_records(day_records(day_start))
    grouped = _group(lines, group_by, ("project_id", "line_item"), ("amount", "quantity"))
    results = []
    for row in grouped:
        # float() is exact here: every amount has at most ~13 significant digits, which a double round-trips.
        amount = {"value": float(row.pop("amount")), "currency": "usd"}
        by_line = "line_item" in group_by
        row.update(quantity=row["quantity"] if by_line else None, quantity_unit="tokens" if by_line else None)
        results.append({"object": "organization.costs.result", "amount": amount, **row})
    return results


def other_records(path: str, day_start: int) -> list[dict]:
    """One day's usage of an endpoint besides completions, per project (and model, image size and source)."""
    _, counters, models = OTHER_ENDPOINTS[path]
    rng = random.Random(f"openai-sandbox:{path}:{day_start}")
    records = []
    for index, project in enumerate(PROJECTS):
        for model in models:
            if rng.random() < 0.4:
                continue
            record = dict.fromkeys(OTHER_DIMS)
            record.update(project_id=project, model=model, api_key_id=f"key_sandbox{index}")
            if path.endswith("/images"):
                record.update(
                    size=rng.choice(("1024x1024", "1024x1536")),
                    source=rng.choice(("image.generation", "image.edit")),
                )
            if path.endswith("/file_search_calls"):
                record["vector_store_id"] = f"vs_sandbox{index}"
            for counter in counters:
                record[counter] = (
                    rng.randrange(1, 5_000) if counter != "usage_bytes" else rng.randrange(10**6, 10**9)
                )
            records.append(record)
    return records


def other_results(path: str, day_start: int, group_by: list[str]) -> list[dict]:
    """The results of one daily bucket of an endpoint besides completions (dimensions it has not: absent)."""
    groups, counters, _ = OTHER_ENDPOINTS[path]
    dims = tuple(d for d in OTHER_DIMS if d in groups)
    kind = path.rsplit("/", 1)[1]
    grouped = _group(other_records(path, day_start), group_by, dims, counters)
    return [{"object": f"organization.usage.{kind}.result", **row} for row in grouped]


def _int_param(query: dict, name: str, default: int | None = None) -> int:
    values = query.get(name)
    if not values:
        if default is None:
            raise SandboxError(
                400, f"Missing required parameter: '{name}'.", "missing_required_parameter", name
            )
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise SandboxError(
            400, f"Invalid value for '{name}': expected an integer.", "invalid_value", name
        ) from None


def _cursor(bucket_start: int) -> str:
    return "page_" + base64.urlsafe_b64encode(json.dumps({"b": bucket_start}).encode()).decode().rstrip("=")


def _read_cursor(token: str) -> int:
    try:
        raw = token.removeprefix("page_")
        return int(json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))["b"])
    except (ValueError, KeyError, TypeError):
        raise SandboxError(400, "Invalid page cursor.", "invalid_value", "page") from None


def build_page(path: str, query: dict[str, list[str]], now: float | None = None) -> dict:
    """One page of daily buckets for `path` and its query, as the real API shapes it."""
    if path not in ENDPOINTS:
        raise SandboxError(404, f"Invalid URL (GET {path})")
    allowed_groups, max_limit = ENDPOINTS[path]
    start_time = _int_param(query, "start_time")
    end_time = _int_param(query, "end_time", int(now if now is not None else time.time()))
    limit = _int_param(query, "limit", 7)
    group_by = query.get("group_by", [])
    if query.get("bucket_width", ["1d"])[-1] != "1d":
        raise SandboxError(400, "The sandbox serves bucket_width=1d only.", "invalid_value", "bucket_width")
    if not 1 <= limit <= max_limit:
        raise SandboxError(400, f"limit must be between 1 and {max_limit}.", "invalid_value", "limit")
    if unknown := set(group_by) - allowed_groups:
        raise SandboxError(400, f"Invalid group_by value(s): {sorted(unknown)}.", "invalid_value", "group_by")
    if end_time <= start_time:
        raise SandboxError(400, "end_time must be after start_time.", "invalid_value", "end_time")
    first = start_time - start_time % DAY  # daily buckets are aligned to UTC midnight
    if page := query.get("page"):
        first = _read_cursor(page[-1])
        if first % DAY or not start_time - DAY < first < end_time:
            raise SandboxError(400, "Invalid page cursor.", "invalid_value", "page")
    starts = range(first, end_time, DAY)
    shown, rest = starts[:limit], starts[limit:]
    if path in OTHER_ENDPOINTS:
        results = lambda s, g: other_results(path, s, g)
    else:
        results = usage_results if path == USAGE_PATH else cost_results
    buckets = [
        {"object": "bucket", "start_time": s, "end_time": s + DAY, "results": results(s, group_by)}
        for s in shown
    ]
    return {
        "object": "page",
        "data": buckets,
        "has_more": bool(rest),
        "next_page": _cursor(rest[0]) if rest else None,
    }


def projects_page(query: dict[str, list[str]]) -> dict:
    """One page of the organization's projects (list projects: limit, after, include_archived)."""
    limit = _int_param(query, "limit", 20)
    if not 1 <= limit <= 100:
        raise SandboxError(400, "limit must be between 1 and 100.", "invalid_value", "limit")
    archived = query.get("include_archived", ["false"])[-1] == "true"
    listed = [(pid, name, None) for pid, name in PROJECTS.items()]
    listed += [(pid, name, 1_760_000_000) for pid, name in ARCHIVED.items()] if archived else []
    ids = [pid for pid, _, _ in listed]
    start = 0
    if after := query.get("after"):
        if after[-1] not in ids:
            raise SandboxError(400, f"No project found with id '{after[-1]}'.", "invalid_value", "after")
        start = ids.index(after[-1]) + 1
    shown = listed[start : start + limit]
    data = [
        {
            "id": pid,
            "object": "organization.project",
            "name": name,
            "created_at": 1_711_471_533,
            "archived_at": archived_at,
            "status": "archived" if archived_at else "active",
        }
        for pid, name, archived_at in shown
    ]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(listed),
    }


def check_auth(header: str | None, api_key: str | None) -> None:
    """Refuse a request without `Bearer sk-...` (or without exactly `api_key` when the sandbox was given one)."""
    if not header or not header.startswith("Bearer "):
        raise SandboxError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    key = header.removeprefix("Bearer ").strip()
    if not key.startswith("sk-") or len(key) < 8 or (api_key is not None and key != api_key):
        masked = f"{key[:3]}***{key[-4:]}" if len(key) > 8 else "***"
        raise SandboxError(
            401,
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_api_key",
        )


def answer(path: str, query: dict[str, list[str]], headers, api_key: str | None = None) -> tuple[int, dict]:
    """The sandbox's answer to GET `path`: (status, JSON body), an error shaped as OpenAI's when refused."""
    try:
        check_auth(headers.get("Authorization"), api_key)
        return 200, projects_page(query) if path == PROJECTS_PATH else build_page(path, query)
    except SandboxError as error:
        return error.status, error.body()
