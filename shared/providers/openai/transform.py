"""Transform: OpenAI Usage/Costs buckets → rows of openai_usage_daily and openai_costs_daily (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from shared.providers.contract import StepContext
from shared.providers.kit.money import MONEY, exact_decimal, to_numeric
from shared.providers.kit.rows import (
    AUDIT_COLUMNS,
    bad_data,
    buckets_in_range,
    count,
    finish_rows,
    optional_str,
)

USAGE_COUNTS = (
    "input_tokens",
    "input_cached_tokens",
    "output_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "num_model_requests",
)
# Older responses omit the audio and cached counters; absent means none happened. The others must be there.
_OPTIONAL_COUNTS = frozenset({"input_cached_tokens", "input_audio_tokens", "output_audio_tokens"})
USAGE_KEY = ("usage_date", "project_id", "model", "api_key_id", "batch")
COSTS_KEY = ("cost_date", "project_id", "line_item", "currency")
# Column order of configs/schemas/org/openai_{usage,costs}_daily.yml, so rows read like the tables.
USAGE_COLUMNS = (
    *USAGE_KEY,
    "input_tokens",
    "input_cached_tokens",
    "input_uncached_tokens",
    "output_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "num_model_requests",
    *AUDIT_COLUMNS,
)
COSTS_COLUMNS = ("cost_date", "project_id", "line_item", "amount", "currency", *AUDIT_COLUMNS)


def bucket_date(bucket: dict) -> date:
    """The UTC day a daily bucket covers (the day of its start_time)."""
    start = bucket.get("start_time")
    if not isinstance(start, int) or isinstance(start, bool):
        raise bad_data(f"bucket start_time {start!r} is not unix seconds")
    return datetime.fromtimestamp(start, UTC).date()


def _count(result: dict, field: str) -> int:
    value = result.get(field)
    if value is None and field in _OPTIONAL_COUNTS:
        return 0
    return count(value, field)


def transform_usage(
    buckets: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Usage buckets → openai_usage_daily rows, one per (day, project, model, api key, batch)."""
    rows: dict[tuple, dict] = {}
    for day, results in buckets_in_range(buckets, ctx, bucket_date):
        for result in results:
            batch = result.get("batch")
            if batch is not None and not isinstance(batch, bool):
                raise bad_data(f"batch {batch!r} is not a boolean")
            dims = (day, *(optional_str(result, f) for f in ("project_id", "model", "api_key_id")), batch)
            counts = {field: _count(result, field) for field in USAGE_COUNTS}
            if counts["input_cached_tokens"] > counts["input_tokens"]:
                raise bad_data(f"{dims}: input_cached_tokens exceed input_tokens")
            # Two results can share our key when they differ in a dimension the table does not keep
            # (user_id, service_tier, ...). Both are real usage, so add them: keeping one would lose tokens
            # and keeping both would break the table's one-row-per-key contract that loads and joins rely on.
            row = rows.setdefault(dims, {**dict(zip(USAGE_KEY, dims)), **dict.fromkeys(USAGE_COUNTS, 0)})
            for field, value in counts.items():
                row[field] += value
    for row in rows.values():
        row["input_uncached_tokens"] = row["input_tokens"] - row["input_cached_tokens"]
    return finish_rows(rows.values(), USAGE_KEY, USAGE_COLUMNS, ctx, ingested_at)


def _cost_dims(day: date, result: dict) -> tuple:
    amount = result.get("amount")
    if not isinstance(amount, dict):
        raise bad_data(f"cost result of {day} has no amount object")
    currency = amount.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        raise bad_data(f"cost result of {day} has no currency")
    return (
        day,
        optional_str(result, "project_id"),
        optional_str(result, "line_item"),
        currency.strip().upper(),
    )


def transform_costs(
    buckets: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Cost buckets → openai_costs_daily rows, one per (day, project, line item, currency), amounts NUMERIC."""
    totals: dict[tuple, Decimal] = {}
    for day, results in buckets_in_range(buckets, ctx, bucket_date):
        for result in results:
            dims = _cost_dims(day, result)
            # Same reason as usage: results differing only in a dimension we do not keep are both real cost.
            # Currency is part of the key because amounts in different currencies cannot be added.
            amount = exact_decimal(result["amount"].get("value"))
            totals[dims] = MONEY.add(totals.get(dims, Decimal(0)), amount)
    rows = ({**dict(zip(COSTS_KEY, dims)), "amount": to_numeric(total)} for dims, total in totals.items())
    return finish_rows(rows, COSTS_KEY, COSTS_COLUMNS, ctx, ingested_at)
