"""An export's load state (per billing period and charge day: the delivery loaded and its rows): read it, decide
what to reload, and the SQL that advances it inside a load's transaction."""

from __future__ import annotations

from datetime import date, timedelta

from shared.providers.kit.exports.model import Delivery
from shared.warehouse.adapter import Warehouse


def read_state(warehouse: Warehouse, table: str, first: date, last: date) -> dict[tuple[date, date], tuple]:
    """(billing_period, charge_date) → (delivery_id, row_count) for the charge days [first, last], and for every
    day of the billing periods starting in it (a period's rows dated outside it, e.g. a late refund)."""
    rows = warehouse.query(
        f"SELECT billing_period, charge_date, delivery_id, row_count FROM `{table}` "
        f"WHERE charge_date BETWEEN @first AND @last OR billing_period BETWEEN @first AND @last",
        {"first": first, "last": last},
    )
    return {(r["billing_period"], r["charge_date"]): (r["delivery_id"], r["row_count"]) for r in rows}


def days(first: date, last: date) -> list[date]:
    """Every day of [first, last]."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def days_to_load(delivery: Delivery, window: list[date], state: dict, force: bool) -> list[date]:
    """The window's days whose rows from this billing period were loaded from another delivery (or never)."""
    period = delivery.billing_period
    return [day for day in window if force or state.get((period, day), (None,))[0] != delivery.delivery_id]


def in_period(period: date, day: date) -> bool:
    """Whether a charge day lies inside the billing period (the month) starting on `period`."""
    return (day.year, day.month) == (period.year, period.month)


def outside_days(delivery: Delivery, todo: list[date], state: dict) -> list[date]:
    """The days outside its own month that a delivery's reload must also replace, with its first day: the ones
    loaded before from this billing period (the new delivery's own are found while it is read)."""
    period = delivery.billing_period
    if period not in todo:
        return []
    return sorted(day for (bp, day) in state if bp == period and not in_period(period, day))


def advance_state_sql(state: str, stage: str) -> str:
    """Statements recording, per loaded day of @billing_period, @delivery_id and the rows the raw stage holds (0
    for a day without rows). New rows go in first, then the old ones of those days are deleted (`loaded_at` tells
    them apart): the emulator cannot run MERGE inside a transaction."""
    return f"""
    INSERT INTO `{state}` (billing_period, charge_date, delivery_id, row_count, x_pipeline_logging_id, loaded_at)
    SELECT @billing_period, d, @delivery_id, IFNULL(s.n, 0), @x_pipeline_logging_id, @x_ingested_at
    FROM UNNEST(@days) AS d
    LEFT JOIN (SELECT charge_date, COUNT(*) AS n FROM `{stage}` GROUP BY charge_date) AS s ON s.charge_date = d;
    DELETE FROM `{state}` WHERE billing_period = @billing_period AND charge_date IN UNNEST(@days)
      AND loaded_at != @x_ingested_at;
    """
