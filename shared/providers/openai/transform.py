"""Transform: OpenAI Usage/Costs buckets → rows of openai_usage_daily and openai_costs_daily (pure functions)."""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

from shared.platform.errors import TerminalError
from shared.providers.contract import StepContext

# BigQuery NUMERIC: precision 38, scale 9. A local context so a caller's decimal settings never change results.
NUMERIC_SCALE = Decimal("1e-9")
NUMERIC_LIMIT = Decimal("1e29")
_MONEY = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])

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
_AUDIT = ("x_pipeline_logging_id", "x_ingested_at")
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
    *_AUDIT,
)
COSTS_COLUMNS = ("cost_date", "project_id", "line_item", "amount", "currency", *_AUDIT)


def _bad(message: str) -> TerminalError:
    return TerminalError("PROVIDER_BAD_DATA", message)


def bucket_date(bucket: dict) -> date:
    """The UTC day a daily bucket covers (the day of its start_time)."""
    start = bucket.get("start_time")
    if not isinstance(start, int) or isinstance(start, bool):
        raise _bad(f"bucket start_time {start!r} is not unix seconds")
    return datetime.fromtimestamp(start, UTC).date()


def buckets_in_range(
    buckets: Iterable[dict], ctx: StepContext, day_of: Callable[[dict], date] = bucket_date
) -> Iterator[tuple[date, list[dict]]]:
    """(day, results) of every daily bucket within the step's slice; `day_of` reads a bucket's day."""
    for bucket in buckets:
        day = day_of(bucket)
        # The load replaces exactly the requested slice, so a row outside it would be written where it is
        # never replaced again (doubled on the next run of that day).
        if ctx.start_date <= day <= ctx.end_date:
            results = bucket.get("results") or []
            if not isinstance(results, list):
                raise _bad(f"bucket of {day} has results that are not a list")
            yield day, results


def optional_str(result: dict, field: str) -> str | None:
    """A result's string field, None when absent; PROVIDER_BAD_DATA when it is not a string."""
    value = result.get(field)
    if value is not None and not isinstance(value, str):
        raise _bad(f"{field} {value!r} is not a string")
    return value


def _count(result: dict, field: str) -> int:
    value = result.get(field)
    if value is None and field in _OPTIONAL_COUNTS:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"{field} {value!r} is not a non-negative integer")
    return value


def _sort_key(row: dict, key: tuple[str, ...]) -> tuple:
    # None sorts first and never compares with a str: (False, "") < (True, value).
    return tuple((row[k] is not None, row[k] if row[k] is not None else "") for k in key)


def _finish(
    rows: Iterable[dict],
    key: tuple[str, ...],
    columns: tuple[str, ...],
    ctx: StepContext,
    ingested_at: datetime | None,
) -> list[dict]:
    """Rows stamped with the run id and one ingestion time, in column order, sorted by key (stable goldens)."""
    ingested_at = ingested_at or datetime.now(UTC)  # taken once: every row of a run shares it
    if ingested_at.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware")
    audit = {"x_pipeline_logging_id": ctx.run_id, "x_ingested_at": ingested_at.astimezone(UTC)}
    finished = [{column: {**row, **audit}[column] for column in columns} for row in rows]
    return sorted(finished, key=lambda row: _sort_key(row, key))


def transform_usage(
    buckets: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Usage buckets → openai_usage_daily rows, one per (day, project, model, api key, batch)."""
    rows: dict[tuple, dict] = {}
    for day, results in buckets_in_range(buckets, ctx):
        for result in results:
            batch = result.get("batch")
            if batch is not None and not isinstance(batch, bool):
                raise _bad(f"batch {batch!r} is not a boolean")
            dims = (day, *(optional_str(result, f) for f in ("project_id", "model", "api_key_id")), batch)
            counts = {field: _count(result, field) for field in USAGE_COUNTS}
            if counts["input_cached_tokens"] > counts["input_tokens"]:
                raise _bad(f"{dims}: input_cached_tokens exceed input_tokens")
            # Two results can share our key when they differ in a dimension the table does not keep
            # (user_id, service_tier, ...). Both are real usage, so add them: keeping one would lose tokens
            # and keeping both would break the table's one-row-per-key contract that loads and joins rely on.
            row = rows.setdefault(dims, {**dict(zip(USAGE_KEY, dims)), **dict.fromkeys(USAGE_COUNTS, 0)})
            for field, value in counts.items():
                row[field] += value
    for row in rows.values():
        row["input_uncached_tokens"] = row["input_tokens"] - row["input_cached_tokens"]
    return _finish(rows.values(), USAGE_KEY, USAGE_COLUMNS, ctx, ingested_at)


def parse_amount(value: object) -> Decimal:
    """A provider money value (Decimal, int or numeric str; never float) as a Decimal at NUMERIC scale."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        # A float here means someone parsed JSON without parse_float=Decimal: refuse rather than round silently.
        raise _bad(f"amount {value!r} is not an exact decimal")
    try:
        amount = Decimal(value)
    except decimal.InvalidOperation:
        raise _bad(f"amount {value!r} is not a number") from None
    if not amount.is_finite() or abs(amount) >= NUMERIC_LIMIT:
        raise _bad(f"amount {value!r} does not fit BigQuery NUMERIC")
    return amount


def _cost_dims(day: date, result: dict) -> tuple:
    amount = result.get("amount")
    if not isinstance(amount, dict):
        raise _bad(f"cost result of {day} has no amount object")
    currency = amount.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        raise _bad(f"cost result of {day} has no currency")
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
    for day, results in buckets_in_range(buckets, ctx):
        for result in results:
            dims = _cost_dims(day, result)
            # Same reason as usage: results differing only in a dimension we do not keep are both real cost.
            # Currency is part of the key because amounts in different currencies cannot be added.
            totals[dims] = _MONEY.add(
                totals.get(dims, Decimal(0)), parse_amount(result["amount"].get("value"))
            )
    rows = (
        {**dict(zip(COSTS_KEY, dims)), "amount": _MONEY.quantize(total, NUMERIC_SCALE)}
        for dims, total in totals.items()
    )
    return _finish(rows, COSTS_KEY, COSTS_COLUMNS, ctx, ingested_at)


# Shared with the other LLM providers' transforms (one rounding context, one way to stamp and order rows).
MONEY = _MONEY
finish_rows = _finish
