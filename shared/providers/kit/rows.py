"""Turning a provider's daily buckets into table rows: only the step's days, typed fields, one audit stamp per
run, and a stable order (so golden files compare exactly)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime

from shared.platform.errors import TerminalError
from shared.providers.contract import StepContext

AUDIT_COLUMNS = ("x_pipeline_logging_id", "x_ingested_at")


def bad_data(message: str) -> TerminalError:
    """The error for a provider answer that breaks its documented shape (retrying cannot help)."""
    return TerminalError("PROVIDER_BAD_DATA", message)


def buckets_in_range(
    buckets: Iterable[dict], ctx: StepContext, day_of: Callable[[dict], date]
) -> Iterator[tuple[date, list[dict]]]:
    """(day, results) of every daily bucket within the step's slice; `day_of` reads a bucket's day."""
    for bucket in buckets:
        day = day_of(bucket)
        # The load replaces exactly the requested slice, so a row outside it would be written where it is
        # never replaced again (doubled on the next run of that day).
        if ctx.start_date <= day <= ctx.end_date:
            results = bucket.get("results") or []
            if not isinstance(results, list):
                raise bad_data(f"bucket of {day} has results that are not a list")
            yield day, results


def optional_str(result: dict, field: str) -> str | None:
    """A result's string field, None when absent; PROVIDER_BAD_DATA when it is not a string."""
    value = result.get(field)
    if value is not None and not isinstance(value, str):
        raise bad_data(f"{field} {value!r} is not a string")
    return value


def count(value: object, what: str) -> int:
    """A non-negative integer counter; PROVIDER_BAD_DATA otherwise (booleans are not counts)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise bad_data(f"{what} {value!r} is not a non-negative integer")
    return value


def _sort_key(row: dict, key: tuple[str, ...]) -> tuple:
    # None sorts first and never compares with a str: (False, "") < (True, value).
    return tuple((row[k] is not None, row[k] if row[k] is not None else "") for k in key)


def finish_rows(
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
