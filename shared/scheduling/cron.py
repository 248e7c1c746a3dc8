"""When a pipeline's schedule fires and which day that firing runs: cron in a time zone, DST-safe, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# How a firing names the day it runs, as the schedule's `date` key says (in the schedule's own time zone).
DATE_OFFSETS = {"yesterday": 1, "today": 0}
_MAX_STEPS = 4  # at most this many cron steps to get past a DST gap (one is always enough for a daily cron)


def check_cron(cron: str) -> str:
    """The cron expression if Cloud Scheduler and croniter both accept it (five unix-cron fields); ValueError."""
    from croniter import croniter

    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ValueError(f"{cron!r} is not a five-field unix-cron expression")
    return cron


def check_time_zone(name: str) -> str:
    """The IANA time zone name if this system knows it; ValueError otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
    return name


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time. A wall time in a DST gap maps past the gap (02:30 that never
    happened fires at 03:30); a repeated wall time maps to its first occurrence (fold=0), so it fires once."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def latest_firing(cron: str, time_zone: str, now: datetime) -> datetime:
    """The last instant (UTC) at or before `now` at which the schedule fired."""
    from croniter import croniter

    zone = ZoneInfo(time_zone)
    # croniter walks naive wall-clock times; zoneinfo turns each into an instant. Walking naive times keeps
    # a daily job daily across DST (one firing per local day), whatever the UTC offset does.
    wall_now = now.astimezone(zone).replace(tzinfo=None)
    walker = croniter(cron, wall_now + timedelta(minutes=1))  # a firing exactly at `now` counts
    for _ in range(_MAX_STEPS):
        wall = walker.get_prev(datetime)
        if _instant(wall, zone) <= now:
            return _instant(wall, zone)
    raise ValueError(f"no firing of {cron!r} found before {now.isoformat()}")


def next_firing(cron: str, time_zone: str, now: datetime) -> datetime:
    """The first instant (UTC) strictly after `now` at which the schedule fires."""
    from croniter import croniter

    zone = ZoneInfo(time_zone)
    walker = croniter(cron, now.astimezone(zone).replace(tzinfo=None) - timedelta(minutes=1))
    for _ in range(_MAX_STEPS + 2):
        instant = _instant(walker.get_next(datetime), zone)
        if instant > now:
            return instant
    raise ValueError(f"no firing of {cron!r} found after {now.isoformat()}")


def run_date(firing: datetime, time_zone: str, which: str = "yesterday") -> date:
    """The day a firing runs: its calendar day in the schedule's time zone, minus one for "yesterday"."""
    return firing.astimezone(ZoneInfo(time_zone)).date() - timedelta(days=DATE_OFFSETS[which])


def due_date(
    cron: str, time_zone: str, which: str, now: datetime, scheduled_time: datetime | None = None
) -> date:
    """The day the schedule is due for at `now`: that of `scheduled_time` (Cloud Scheduler's own firing time,
    so a late or retried call still runs the right day) or else of the latest firing."""
    firing = scheduled_time or latest_firing(cron, time_zone, now)
    return run_date(firing, time_zone, which)
