"""SaaS plans → daily charges: pure functions, Decimal end to end, each cycle exact to the currency's minor unit.

Money semantics (also in the README, "SaaS subscriptions"):
- Versions: the terms in force on day d are the changes of every version effective on or before d, applied in
  order of effective date (shared/saas/terms.py `in_force`). A change therefore never alters the days before its
  effective date, even when backdated, and a backdated change leaves a later-dated one in force after it.
- Cycles: monthly cycles start on the anniversary day (clamped to a short month's last day); annual cycles on
  start_date's month/day and last the 365 or 366 days to the next anniversary. A first cycle that starts between
  anniversaries is charged for its days only (days / the full cycle's days).
- A cycle is priced with the terms in force on its first day: net = seats x unit_price x (1 - discount_percent/100)
  - discount_amount (never below 0), list = seats x unit_price. Its invoice day is its first day: BilledCost is
  the whole net price on that day and 0 on the others; EffectiveCost (and ListCost, ContractedCost) amortise it
  per day over the cycle, each day rounded half-even to the minor unit and the remainder on the cycle's last day,
  so the cycle's days sum to its price exactly.
- A seat increase effective on day e of a cycle of N days is prorated: (new - seats billed so far) x unit_price x
  (1 - discount_percent/100) x (days from e to the cycle's end) / N, with the cycle's unit price and percent (a
  price change waits for the next cycle), billed on e and amortised over those days; the fixed discount is per
  cycle and is not prorated.
- A seat decrease, a price or discount change, and an end take effect at the next cycle: the cycle in progress
  was invoiced on its first day and is not refunded (as SaaS vendors keep access to the period's end). No cycle
  starts on or after end_date (exclusive).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext

from shared.providers.kit.money import MONEY
from shared.saas.terms import ANNUAL, in_force, minor_unit

CYCLE, SEAT_INCREASE = "cycle", "seat_increase"
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Charge:
    """One invoiced amount: a cycle's price or a prorated seat increase, with the days it is amortised over."""

    kind: str
    version: int  # the version whose terms the charge prices
    terms: dict
    seats: int
    first_day: date  # the invoice day
    end_day: date  # exclusive: the cycle's end
    cycle_start: date
    list_total: Decimal
    net_total: Decimal


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def cycle_of(terms: dict, day: date) -> tuple[date, date]:
    """[start, end) of the full billing cycle that contains `day` (anniversary to anniversary)."""
    start = date.fromisoformat(terms["start_date"])
    if terms["billing_cycle"] == ANNUAL:
        this = _clamped(day.year, start.month, start.day)
        if this <= day:
            return this, _clamped(day.year + 1, start.month, start.day)
        return _clamped(day.year - 1, start.month, start.day), this
    anniversary = terms["anniversary_day"]
    this = _clamped(day.year, day.month, anniversary)
    if this <= day:
        return this, _clamped(*_add_months(day.year, day.month, 1), anniversary)
    return _clamped(*_add_months(day.year, day.month, -1), anniversary), this


def _renews(version: dict | None, day: date) -> bool:
    """Whether a cycle may start on `day` under `version`'s terms (not past its exclusive end_date)."""
    if version is None:
        return False
    end = version["terms"].get("end_date")
    return end is None or day < date.fromisoformat(end)


def _quantize(amount: Decimal, unit: Decimal, rounding=ROUND_HALF_EVEN) -> Decimal:
    return amount.quantize(unit, rounding=rounding)


def _cycle_charges(
    versions: list[dict], cycle_start: date, cycle_end: date, plan_start: date
) -> list[Charge]:
    """The charges of one cycle: its price on its first day, then every prorated seat increase within it."""
    first = max(cycle_start, plan_start)
    base = in_force(versions, first)
    if not _renews(base, first):
        return []
    terms, full_days = base["terms"], (cycle_end - cycle_start).days
    unit, price = minor_unit(terms["currency"]), Decimal(terms["unit_price"])
    keep = 1 - Decimal(terms["discount_percent"]) / HUNDRED
    share = Decimal((cycle_end - first).days) / full_days  # < 1 only for a first cycle between anniversaries
    list_total = _quantize(terms["seats"] * price * share, unit)
    net = terms["seats"] * price * keep * share - Decimal(terms["discount_amount"]) * share
    charges = [
        Charge(
            CYCLE,
            base["version"],
            terms,
            terms["seats"],
            first,
            cycle_end,
            cycle_start,
            list_total,
            _quantize(max(net, Decimal(0)), unit),
        )
    ]
    billed_seats = terms["seats"]
    changes = sorted({date.fromisoformat(v["effective_date"]) for v in versions})
    for day in (d for d in changes if first < d < cycle_end):
        current = in_force(versions, day)
        if not _renews(current, day) or current["terms"]["seats"] <= billed_seats:
            continue
        extra = current["terms"]["seats"] - billed_seats
        list_extra = extra * price * Decimal((cycle_end - day).days) / full_days
        # Priced as the cycle is (its unit price and percent); the fixed discount is the cycle's alone.
        priced = {**current["terms"], **{k: terms[k] for k in ("unit_price", "discount_percent")}}
        charges.append(
            Charge(
                SEAT_INCREASE,
                current["version"],
                {**priced, "discount_amount": "0"},
                extra,
                day,
                cycle_end,
                cycle_start,
                _quantize(list_extra, unit),
                _quantize(list_extra * keep, unit),
            )
        )
        billed_seats = current["terms"]["seats"]
    return charges


def amortised(total: Decimal, days: int, unit: Decimal) -> tuple[Decimal, Decimal]:
    """`total` spread over `days` days as (each day but the last, the last day): each day rounded half-even to
    `unit`, the remainder on the last day, so they sum to `total` exactly (rounded down instead if half-even would
    leave the last day negative)."""
    daily = _quantize(total / days, unit)
    if total - daily * (days - 1) < 0:
        daily = _quantize(total / days, unit, ROUND_DOWN)
    return daily, total - daily * (days - 1)


def charges_in(subscription: dict, start: date, end: date) -> list[Charge]:
    """Every charge of a subscription whose days overlap [start, end] (whole charges: a cycle begun earlier too)."""
    with localcontext(MONEY):  # the kit's context: 60 digits, whatever the caller's decimal settings
        return _charges_in(subscription, start, end)


def _charges_in(subscription: dict, start: date, end: date) -> list[Charge]:
    versions = subscription["versions"]
    first_terms = min(versions, key=lambda v: v["version"])["terms"]
    plan_start = date.fromisoformat(first_terms["start_date"])
    day, charges = max(start, plan_start), []
    while day <= end:
        cycle_start, cycle_end = cycle_of(first_terms, day)
        charges += _cycle_charges(versions, cycle_start, cycle_end, plan_start)
        day = cycle_end
    return charges


def daily_charges(subscription: dict, start: date, end: date) -> list[dict]:
    """One row per charge and day within [start, end]: the day's amortised list and net amounts, and the billed
    amount on the charge's invoice day (0 on the others)."""
    rows = []
    for charge in charges_in(subscription, start, end):
        unit, days = minor_unit(charge.terms["currency"]), (charge.end_day - charge.first_day).days
        with localcontext(MONEY):
            net, net_last = amortised(charge.net_total, days, unit)
            listed, listed_last = amortised(charge.list_total, days, unit)
        last = charge.end_day - timedelta(days=1)
        day = max(start, charge.first_day)
        while day <= min(end, last):  # only the window's days: a year's charge priced for one day is one row
            is_last = day == last
            rows.append(
                _row(
                    subscription["subscription_id"],
                    charge,
                    day,
                    net_last if is_last else net,
                    listed_last if is_last else listed,
                )
            )
            day += timedelta(days=1)
    return rows


def _row(subscription_id: str, charge: Charge, day: date, net: Decimal, listed: Decimal) -> dict:
    terms = charge.terms
    return {
        "charge_date": day,
        "subscription_id": subscription_id,
        "charge_kind": charge.kind,
        "version": charge.version,
        "vendor": terms["vendor"],
        "product": terms["product"],
        "plan": terms["plan"],
        "invoice_issuer": terms.get("invoice_issuer"),
        "currency": terms["currency"],
        "billing_cycle": terms["billing_cycle"],
        "cycle_start": charge.cycle_start,
        "cycle_end": charge.end_day,
        "invoice_date": charge.first_day,
        "seats": charge.seats,
        "unit_price": Decimal(terms["unit_price"]),
        "discount_percent": Decimal(terms["discount_percent"]),
        "discount_amount": Decimal(terms["discount_amount"]),
        "list_amount": listed,
        "amount": net,
        "billed_amount": charge.net_total if day == charge.first_day else Decimal(0),
        "tags": terms.get("tags") or {},
    }
