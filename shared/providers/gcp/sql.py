"""The SQL run against the customer's export: a pruned projection of exactly the partitions to (re)load."""

from __future__ import annotations

from datetime import date, timedelta

from shared.providers.gcp import constants as gcp

# The export columns the pipeline reads, in the order of configs/schemas/sources/gcp_billing_export_resource_v1.yml.
EXPORT_COLUMNS = (
    "billing_account_id",
    "service",
    "sku",
    "usage_start_time",
    "usage_end_time",
    "project",
    "labels",
    "system_labels",
    "location",
    "export_time",
    "cost",
    "currency",
    "currency_conversion_rate",
    "usage",
    "credits",
    "invoice",
    "cost_type",
    "adjustment_info",
    "cost_at_list",
    "transaction_type",
    "seller_name",
    "resource",
    "price",
    "consumption_model",
    "cost_at_effective_price_default",
    "tags",
)


def source_select_list(present: set[str]) -> str:
    """The export's columns as they are (the transform runs on our side, vectorised), plus the partition date.

    `present` is the export's column names; optional columns it lacks (older or standard exports) are read as
    typed NULLs, so every batch has one shape. Money stays FLOAT64 here: it is converted exactly on our side.
    """

    def column(name: str) -> str:
        if name in gcp.OPTIONAL_COLUMNS and name not in present:
            return f"CAST(NULL AS {gcp.OPTIONAL_COLUMNS[name]}) AS {name}"
        return name

    return ", ".join(["DATE(_PARTITIONTIME) AS partition_date", *map(column, EXPORT_COLUMNS)])


def date_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days merged into inclusive ranges: [1, 2, 3, 5] → [(1, 3), (5, 5)]."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def partition_filter(days: list[date]) -> tuple[str, dict]:
    """A WHERE clause selecting exactly these export partitions as ranges of _PARTITIONTIME (so they prune)."""
    clauses, params = [], {}
    for index, (first, last) in enumerate(date_ranges(days)):
        clauses.append(
            f"(_PARTITIONTIME >= TIMESTAMP(@p{index}_first) "
            f"AND _PARTITIONTIME < TIMESTAMP(DATE_ADD(@p{index}_last, INTERVAL 1 DAY)))"
        )
        params[f"p{index}_first"], params[f"p{index}_last"] = first, last
    return " OR ".join(clauses) or "FALSE", params
