"""SeatBill's step types: the seat-charges report (through the provider kit's report pager) and its FOCUS rows
(through the kit's FOCUS builder)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from shared.providers.contract import Processor, StepContext
from shared.providers.kit.focus import daily_usage_columns, focus_step
from shared.providers.kit.money import MONEY, exact_decimal, to_numeric
from shared.providers.kit.report_api import ReportApi, report_items
from shared.providers.kit.rows import (
    AUDIT_COLUMNS,
    bad_data,
    buckets_in_range,
    count,
    finish_rows,
    optional_str,
)
from tests.providers.seatbill import PROVIDER

CHARGES_PATH = "/v2/reports/seat_charges"
KEY = ("charge_date", "plan", "team", "currency")
COLUMNS = (*KEY, "seats", "amount", *AUDIT_COLUMNS)
SERVICE_NAME = "SeatBill Seats"

REPORTS = ReportApi(
    provider=PROVIDER,
    window=lambda start, end: [("from", start.date().isoformat()), ("to", end.date().isoformat())],
    auth_headers=lambda secret: {"Authorization": f"Token {secret}"},
    group_by_param="group[]",
    key_name="API token",
)


def extract_charges(ctx: StepContext) -> Iterator[dict]:
    """Daily seat-charge buckets, grouped by plan and team, for the step's days."""
    return report_items(ctx, REPORTS, CHARGES_PATH, ("plan", "team"), 2)


def _day(bucket: dict) -> date:
    try:
        return date.fromisoformat(bucket["date"])
    except (KeyError, TypeError, ValueError):
        raise bad_data(f"bucket date {bucket.get('date')!r} is not YYYY-MM-DD") from None


def transform_charges(
    buckets: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Buckets → seatbill_charges_daily rows, one per (day, plan, team, currency), amounts exact."""
    rows: dict[tuple, dict] = {}
    for day, results in buckets_in_range(buckets, ctx, _day):
        for result in results:
            currency = (optional_str(result, "currency") or "").upper()
            if not currency:
                raise bad_data(f"charge of {day} has no currency")
            key = (day, optional_str(result, "plan"), optional_str(result, "team"), currency)
            row = rows.setdefault(key, {**dict(zip(KEY, key)), "seats": 0, "amount": Decimal(0)})
            row["seats"] += count(result.get("seats"), "seats")
            row["amount"] = MONEY.add(row["amount"], exact_decimal(result.get("amount")))
    for row in rows.values():
        row["amount"] = to_numeric(row["amount"])
    return finish_rows(rows.values(), KEY, COLUMNS, ctx, ingested_at)


FOCUS_COLUMNS = {
    "SubAccountId": "team",
    "SubAccountName": "team",  # the report names a team by its slug only; FOCUS wants a name wherever there is an id
    "ChargeCategory": "'Purchase'",  # seats are bought, by the day, not consumed
    "ChargeFrequency": "'Recurring'",
    "ChargeDescription": "CONCAT(IFNULL(plan, 'SeatBill'), ' seats')",
    "ListCost": "amount",
    "ContractedCost": "amount",
    "PricingQuantity": "CAST(seats AS NUMERIC)",
    "PricingUnit": "'Seats'",
    "SkuId": "plan",
}


def _charges(dataset: str) -> tuple[str, str]:
    return (
        "",
        f"FROM `{dataset}.seatbill_charges_daily` WHERE charge_date BETWEEN @slice_start AND @slice_end",
    )


# One FOCUS row per charge row.
build_focus = focus_step(
    PROVIDER,
    SERVICE_NAME,
    {**daily_usage_columns("charge_date", "amount", "currency", "seatbill_charges_daily"), **FOCUS_COLUMNS},
    _charges,
)


PROCESSORS = {
    "seatbill.charges": Processor(extract=extract_charges, transform=transform_charges),
    "seatbill.focus": Processor(run=build_focus),
}
