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

# The usage object's counters (UsageCompletionsResult). input_tokens holds every input token: cache reads
# (input_cached_tokens), cache writes and the uncached rest, which the API splits by modality; the modality counters
# (input_text/audio/image_tokens) are uncached ones, their cached parts come as input_cached_<modality>_tokens.
# Only input_tokens, output_tokens and num_model_requests are always there; older responses lack the rest.
_REQUIRED = ("input_tokens", "output_tokens", "num_model_requests")
_OPTIONAL = (
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_audio_tokens",
    "input_image_tokens",
    "input_cached_audio_tokens",
    "input_cached_image_tokens",
    "output_audio_tokens",
    "output_image_tokens",
)
# Parts newer responses give and older ones leave to us: (part, its whole, the whole's other parts). In order:
# the uncached input is needed before its text part.
_DERIVED = (
    ("input_uncached_tokens", "input_tokens", ("input_cached_tokens", "input_cache_write_tokens")),
    ("input_text_tokens", "input_uncached_tokens", ("input_audio_tokens", "input_image_tokens")),
    (
        "input_cached_text_tokens",
        "input_cached_tokens",
        ("input_cached_audio_tokens", "input_cached_image_tokens"),
    ),
    ("output_text_tokens", "output_tokens", ("output_audio_tokens", "output_image_tokens")),
)
USAGE_COUNTS = (*_REQUIRED, *_OPTIONAL, *(part for part, _, _ in _DERIVED))
USAGE_KEY = ("usage_date", "project_id", "model", "api_key_id", "batch", "service_tier")
COSTS_KEY = ("cost_date", "project_id", "line_item", "currency")
# Column order of configs/schemas/org/openai_{usage,costs}_daily.yml, so rows read like the tables.
USAGE_COLUMNS = (
    *USAGE_KEY,
    "input_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_uncached_tokens",
    "input_text_tokens",
    "input_cached_text_tokens",
    "output_tokens",
    "output_text_tokens",
    "input_audio_tokens",
    "input_cached_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
    "num_model_requests",
    *AUDIT_COLUMNS,
)
COSTS_COLUMNS = (
    "cost_date",
    "project_id",
    "project_name",
    "line_item",
    "amount",
    "currency",
    "quantity",
    "quantity_unit",
    *AUDIT_COLUMNS,
)


def bucket_date(bucket: dict) -> date:
    """The UTC day a daily bucket covers (the day of its start_time)."""
    start = bucket.get("start_time")
    if not isinstance(start, int) or isinstance(start, bool):
        raise bad_data(f"bucket start_time {start!r} is not unix seconds")
    return datetime.fromtimestamp(start, UTC).date()


def usage_counts(result: dict, where: object) -> dict[str, int]:
    """Every counter of one usage result, the parts the API left out derived from their whole; PROVIDER_BAD_DATA
    when the parts do not add up to the whole (a token would be priced twice, or not at all)."""
    counts = {field: count(result.get(field), field) for field in _REQUIRED}
    for field in _OPTIONAL:  # absent: none happened (older responses omit them)
        counts[field] = 0 if result.get(field) is None else count(result[field], field)
    for part, whole, others in _DERIVED:
        rest = counts[whole] - sum(counts[other] for other in others)
        given = result.get(part)
        counts[part] = rest if given is None else count(given, part)
        if rest < 0 or counts[part] != rest:
            raise bad_data(f"{where}: {' + '.join((part, *others))} do not add up to {whole}")
    return counts


def service_tier(result: dict) -> str | None:
    """The result's service tier as the API names it (when grouped by service_tier); None when it names none."""
    tier = optional_str(result, "service_tier")
    return tier.lower() if tier else None


def transform_usage(
    buckets: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Usage buckets → openai_usage_daily rows, one per (day, project, model, api key, batch, service tier)."""
    rows: dict[tuple, dict] = {}
    for day, results in buckets_in_range(buckets, ctx, bucket_date):
        for result in results:
            batch = result.get("batch")
            if batch is not None and not isinstance(batch, bool):
                raise bad_data(f"batch {batch!r} is not a boolean")
            names = (optional_str(result, f) for f in ("project_id", "model", "api_key_id"))
            dims = (day, *names, batch, service_tier(result))
            counts = usage_counts(result, dims)
            # Two results can share our key when they differ in a dimension the table does not keep (user_id,
            # ...). Both are real usage, so add them: keeping one would lose tokens and keeping both would break
            # the table's one-row-per-key contract that loads and joins rely on.
            row = rows.setdefault(dims, {**dict(zip(USAGE_KEY, dims)), **dict.fromkeys(USAGE_COUNTS, 0)})
            for field, value in counts.items():
                row[field] += value
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


PROJECT_OBJECT = "organization.project"


def project_names(projects: Iterable[dict]) -> dict[str, str]:
    """Project id → name, of the Projects API's objects (a project without a name is left out)."""
    names = {}
    for project in projects:
        project_id, name = optional_str(project, "id"), optional_str(project, "name")
        if not project_id:
            raise bad_data("a project without an id")
        if name and name.strip():
            names[project_id] = name.strip()
    return names


def _quantity(result: dict) -> tuple[Decimal | None, str | None]:
    """The line's billed quantity and its unit (the Costs API gives them when grouped by line item)."""
    quantity = result.get("quantity")
    if quantity is None:
        return None, None
    return exact_decimal(quantity, "quantity"), optional_str(result, "quantity_unit")


def _add_cost(row: dict, amount: Decimal, result: dict) -> None:
    """Add one more result of the row's key: results differing only in a dimension we do not keep are both real
    cost. Quantities add only in one unit; a row whose parts disagree has none rather than a wrong one."""
    quantity, unit = _quantity(result)
    same = row["quantity_unit"] == unit and None not in (row["quantity"], quantity)
    row["quantity"], row["quantity_unit"] = (
        (MONEY.add(row["quantity"], quantity), unit) if same else (None, None)
    )
    row["project_name"] = row["project_name"] or optional_str(result, "project_name")
    row["amount"] = MONEY.add(row["amount"], amount)


def transform_costs(
    buckets: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Cost buckets → openai_costs_daily rows, one per (day, project, line item, currency), amounts NUMERIC;
    the project's name from the result, else from the `organization.project` objects among the items. Currency is
    part of the key because amounts in different currencies cannot be added."""
    items = list(buckets)
    names = project_names(item for item in items if item.get("object") == PROJECT_OBJECT)
    buckets = [item for item in items if item.get("object") != PROJECT_OBJECT]
    rows: dict[tuple, dict] = {}
    for day, results in buckets_in_range(buckets, ctx, bucket_date):
        for result in results:
            dims = _cost_dims(day, result)
            amount = exact_decimal(result["amount"].get("value"))
            if dims in rows:
                _add_cost(rows[dims], amount, result)
                continue
            quantity, unit = _quantity(result)
            rows[dims] = {
                **dict(zip(COSTS_KEY, dims)),
                "project_name": optional_str(result, "project_name"),
                "amount": amount,
                "quantity": quantity,
                "quantity_unit": unit,
            }
    for row in rows.values():
        row["project_name"] = row["project_name"] or names.get(row["project_id"])
        row["amount"] = to_numeric(row["amount"])
        row["quantity"] = None if row["quantity"] is None else to_numeric(row["quantity"])
    return finish_rows(rows.values(), COSTS_KEY, COSTS_COLUMNS, ctx, ingested_at)
