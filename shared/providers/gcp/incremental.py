"""Which export partitions a run must (re)load: the look-back window, and what changed since the last load."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from shared.providers.gcp import constants as gcp

Stats = dict[date, tuple[datetime | None, int]]  # partition → (max(export_time), rows)


def load_window(start: date, end: date) -> tuple[date, date]:
    """Partitions to look at for a run of [start, end]: a look-back before start, and early in a month the
    whole previous invoice month (Google restates recent days and closes a month's invoice days later)."""
    first = start - timedelta(days=gcp.LOOKBACK_DAYS)
    if end.day <= gcp.PREVIOUS_MONTH_DAYS:
        previous_month = (end.replace(day=1) - timedelta(days=1)).replace(day=1)
        first = min(first, previous_month)
    return first, end


def changed_partitions(
    source: Stats, loaded: dict[date, tuple[str, datetime | None, int]], table_id: str, force: bool = False
) -> list[date]:
    """Partitions whose (max(export_time), row count, table) differ from what was loaded, or that vanished.

    `loaded` maps partition → (source_table, max_export_time, row_count) from the state table. A partition the
    source no longer has but we hold rows of is changed too: reloading it deletes them (a restatement).
    """
    changed = {
        partition
        for partition, (max_export_time, rows) in source.items()
        if force or loaded.get(partition) != (table_id, max_export_time, rows)
    }
    changed |= {
        partition for partition, (_, _, rows) in loaded.items() if partition not in source and rows > 0
    }
    return sorted(changed)


def partition_groups(partitions: list[date], source: Stats, max_rows: int) -> list[list[date]]:
    """The partitions in order, grouped so a group holds at most `max_rows` rows (by the stats) unless one
    partition alone is bigger: one source query per group bounds what a run holds in memory at once."""
    groups: list[list[date]] = []
    rows_in_group = 0
    for partition in partitions:
        rows = source.get(partition, (None, 0))[1]
        if not groups or rows_in_group + rows > max_rows:
            groups.append([])
            rows_in_group = 0
        groups[-1].append(partition)
        rows_in_group += rows
    return groups
