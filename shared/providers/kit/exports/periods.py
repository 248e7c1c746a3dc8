"""Billing periods of monthly exports: which periods a window touches, and how far back a run looks (a period is
restated up to ~two weeks after it ends)."""

from __future__ import annotations

from datetime import date, timedelta

RESTATABLE_DAYS = 15  # AWS: "up to two weeks after the billing period ends"; Azure closes a month within days


def month_start(day: date) -> date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def months(first: date, last: date) -> list[date]:
    """First days of every month overlapping [first, last]."""
    out, month = [], month_start(first)
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


def export_load_window(start: date, end: date, restatable_days: int = RESTATABLE_DAYS) -> tuple[date, date]:
    """Charge days a run of [start, end] loads: whole billing periods, and the previous one while it can still
    be restated (end within `restatable_days` of its end)."""
    first = month_start(start)
    if (end - first).days < restatable_days:
        first = month_start(first - timedelta(days=1))
    return first, next_month(end) - timedelta(days=1)
