"""Transform: the other OpenAI usage endpoints' buckets → openai_usage_other_daily rows (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.providers.contract import StepContext
from shared.providers.kit.rows import AUDIT_COLUMNS, bad_data, count, finish_rows, optional_str
from shared.providers.openai import constants as api
from shared.providers.openai.transform import bucket_date

OTHER_KEY = ("usage_date", "endpoint", "project_id", "model", "detail", "metric")
OTHER_COLUMNS = (*OTHER_KEY, "quantity", "num_model_requests", *AUDIT_COLUMNS)
# Older responses of code_interpreter_sessions call the count `sessions`.
_ALIASES = {"num_sessions": ("num_sessions", "sessions")}


def _quantity(result: dict, endpoint: str, metric: str) -> int:
    for field in _ALIASES.get(metric, (metric,)):
        if result.get(field) is not None:
            return count(result[field], f"{endpoint}.{field}")
    raise bad_data(f"{endpoint} result without {metric}")


def _detail(result: dict) -> str | None:
    size, source = optional_str(result, "size"), optional_str(result, "source")
    return None if size is None and source is None else f"{size or '-'}/{source or '-'}"


def transform_usage_other(
    buckets: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Tagged buckets (extract_usage_other) → one row per (day, endpoint, project, model, detail), summed."""
    rows: dict[tuple, dict] = {}
    for bucket in buckets:
        endpoint = bucket.get("endpoint")
        if endpoint not in api.OTHER_USAGE:
            raise bad_data(f"bucket of unknown endpoint {endpoint!r}")
        day = bucket_date(bucket)
        # Same rule as the other tables: only the requested slice, which the load replaces exactly.
        if not ctx.start_date <= day <= ctx.end_date:
            continue
        metric = api.OTHER_USAGE[endpoint][1]
        for result in bucket.get("results") or []:
            key = (
                day,
                endpoint,
                optional_str(result, "project_id"),
                optional_str(result, "model"),
                _detail(result),
                metric,
            )
            requests = result.get("num_model_requests")
            row = rows.setdefault(
                key, {**dict(zip(OTHER_KEY, key)), "quantity": 0, "num_model_requests": None}
            )
            row["quantity"] += _quantity(result, endpoint, metric)
            if requests is not None:
                row["num_model_requests"] = (row["num_model_requests"] or 0) + count(requests, "requests")
    return finish_rows(rows.values(), OTHER_KEY, OTHER_COLUMNS, ctx, ingested_at)
