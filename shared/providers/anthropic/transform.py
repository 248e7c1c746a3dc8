"""Transform: Anthropic usage/cost report buckets → rows of anthropic_usage_daily and anthropic_costs_daily (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from shared.providers.anthropic import constants as api
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

USAGE_DIMS = ("model", "service_tier", "context_window", "inference_geo")
USAGE_KEY = ("usage_date", "workspace_label", "api_key_label", *USAGE_DIMS)
# (column, path in the result): nested counters are flattened; an absent or null object means none happened.
USAGE_COUNTS = (
    ("uncached_input_tokens", ("uncached_input_tokens",)),
    ("cache_read_input_tokens", ("cache_read_input_tokens",)),
    ("cache_creation_5m_input_tokens", ("cache_creation", "ephemeral_5m_input_tokens")),
    ("cache_creation_1h_input_tokens", ("cache_creation", "ephemeral_1h_input_tokens")),
    ("output_tokens", ("output_tokens",)),
    ("web_search_requests", ("server_tool_use", "web_search_requests")),
)
# Top-level counters every result must carry; nested ones are optional (older responses lack them).
_REQUIRED_COUNTS = frozenset({"uncached_input_tokens", "cache_read_input_tokens", "output_tokens"})
USAGE_COLUMNS = (
    "usage_date",
    "workspace_id",
    "workspace_label",
    "api_key_id",
    "api_key_label",
    *USAGE_DIMS,
    *(column for column, _ in USAGE_COUNTS),
    *AUDIT_COLUMNS,
)
COST_DIMS = (
    "description",
    "cost_type",
    "model",
    "token_type",
    "service_tier",
    "context_window",
    "inference_geo",
)
COSTS_KEY = ("cost_date", "workspace_label", *COST_DIMS, "currency")
COSTS_COLUMNS = (
    "cost_date",
    "workspace_id",
    "workspace_label",
    "workspace_name",
    *COST_DIMS,
    "amount",
    "currency",
    *AUDIT_COLUMNS,
)
CENTS_PER_UNIT = Decimal(100)


def bucket_date(bucket: dict) -> date:
    """The UTC day a daily bucket covers (its starting_at, which must be a UTC midnight)."""
    start = bucket.get("starting_at")
    try:
        when = datetime.fromisoformat(start)
    except (TypeError, ValueError):
        raise bad_data(f"bucket starting_at {start!r} is not an RFC 3339 timestamp") from None
    if when.tzinfo is None:
        raise bad_data(f"bucket starting_at {start!r} has no time zone")
    when = when.astimezone(UTC)
    if when.time() != datetime.min.time():
        raise bad_data(f"bucket starting_at {start!r} is not a UTC day (bucket_width must be 1d)")
    return when.date()


def _count(result: dict, column: str, path: tuple[str, ...]) -> int:
    value: object = result
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    if value is None and column not in _REQUIRED_COUNTS:
        return 0
    return count(value, ".".join(path))


def workspace_label(workspace_id: str | None) -> str:
    """The workspace as the tables name it: its id, or 'default' for the default workspace (null id)."""
    return workspace_id if workspace_id is not None else api.DEFAULT_WORKSPACE


def transform_usage(
    buckets: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Usage buckets → anthropic_usage_daily rows, one per (day, workspace, API key, model, tier, window)."""
    rows: dict[tuple, dict] = {}
    for day, results in buckets_in_range(buckets, ctx, bucket_date):
        for result in results:
            workspace_id, api_key_id = (
                optional_str(result, "workspace_id"),
                optional_str(result, "api_key_id"),
            )
            dims = tuple(optional_str(result, field) for field in USAGE_DIMS)
            key = (day, workspace_label(workspace_id), api_key_id or api.CONSOLE_API_KEY, *dims)
            # Results sharing our key differ in a dimension the table does not keep: both are real usage, add them.
            row = rows.setdefault(
                key,
                {
                    **dict(zip(USAGE_KEY, key)),
                    "workspace_id": workspace_id,
                    "api_key_id": api_key_id,
                    **{column: 0 for column, _ in USAGE_COUNTS},
                },
            )
            for column, path in USAGE_COUNTS:
                row[column] += _count(result, column, path)
    return finish_rows(rows.values(), USAGE_KEY, USAGE_COLUMNS, ctx, ingested_at)


def cents_to_units(value: object) -> Decimal:
    """The cost report's amount (a decimal string in cents, the lowest currency unit) in currency units, exact."""
    return MONEY.divide(exact_decimal(value), CENTS_PER_UNIT)  # exact: a finite decimal divided by 100


def transform_costs(
    buckets: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Cost buckets → anthropic_costs_daily rows, one per (day, workspace, cost line, currency), NUMERIC amounts."""
    totals: dict[tuple, Decimal] = {}
    workspace_ids: dict[str, str | None] = {}
    workspace_names: dict[str, str | None] = {}
    for day, results in buckets_in_range(buckets, ctx, bucket_date):
        for result in results:
            currency = result.get("currency")
            if not isinstance(currency, str) or not currency.strip():
                raise bad_data(f"cost result of {day} has no currency")
            workspace_id = optional_str(result, "workspace_id")
            label = workspace_label(workspace_id)
            workspace_ids[label] = workspace_id
            workspace_names[label] = optional_str(result, "workspace_name") or workspace_names.get(label)
            dims = (day, label, *(optional_str(result, f) for f in COST_DIMS), currency.strip().upper())
            # Currency is in the key: amounts in different currencies are never added.
            totals[dims] = MONEY.add(totals.get(dims, Decimal(0)), cents_to_units(result.get("amount")))
    rows = (
        {
            **dict(zip(COSTS_KEY, dims)),
            "workspace_id": workspace_ids[dims[1]],
            "workspace_name": workspace_names[dims[1]],
            "amount": to_numeric(total),
        }
        for dims, total in totals.items()
    )
    return finish_rows(rows, COSTS_KEY, COSTS_COLUMNS, ctx, ingested_at)
