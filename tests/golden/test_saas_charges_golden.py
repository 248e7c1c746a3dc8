"""Golden cases of issue 16 for SaaS plans: plans as the store keeps them (versions) → saas_subscriptions_daily
rows (shared/providers/saas/charges.py, through the step's transform). Every amount is worked by hand below;
money semantics in charges.py's docstring."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from shared.providers.saas.steps import transform_plans
from shared.saas.plans import new_document, next_version
from shared.saas.terms import validate_terms
from tests.kit.steps import step_context

NOW = datetime(2025, 12, 1, 6, 0, tzinfo=UTC)
SLACK = {
    "vendor": "Slack",
    "product": "Slack",
    "plan": "Business+",
    "seats": 10,
    "unit_price": "12.00",
    "currency": "USD",
    "billing_cycle": "monthly",
    "start_date": "2025-11-01",
}


def plan(subscription_id: str, *changes: tuple[str | None, dict]) -> dict:
    """A plan document as the store writes it: version 1 from the first terms' start_date, then each
    (effective_date, change) in turn (shared/saas/plans.py's own versioning)."""
    (_, first), *rest = changes
    document = new_document(subscription_id, validate_terms(first), NOW)
    for effective, change in rest:
        document = next_version(document, change, date.fromisoformat(effective), False, NOW)
    return document


def rows(plans: list[dict], start: date, end: date) -> list[dict]:
    """The step's rows for [start, end], as the executor would load them."""
    return transform_plans(plans, step_context("saas", start, end, ""), ingested_at=NOW)


def by_day(table: list[dict], kind: str = "cycle") -> dict[date, dict]:
    return {row["charge_date"]: row for row in table if row["charge_kind"] == kind}


def total(table: list[dict], column: str, **where) -> Decimal:
    return sum((r[column] for r in table if all(r[k] == v for k, v in where.items())), Decimal(0))


def test_mid_cycle_seat_increase_is_prorated_billed_on_its_day_and_the_month_is_exact():
    # 10 seats x 12.00 monthly from Nov 1 (30-day cycle Nov 1 - Dec 1) = 120.00 billed Nov 1, 4.00 a day.
    # +5 seats from Nov 16: 5 x 12.00 x 15/30 = 30.00 billed Nov 16, amortised over Nov 16-30: 2.00 a day.
    # November: billed 120.00 + 30.00 = 150.00 = effective 30 x 4.00 + 15 x 2.00.
    # December cycle: 15 x 12.00 = 180.00 billed Dec 1 (31 days: 5.81 a day).
    subscription = plan("saas_golden_seats", (None, SLACK), ("2025-11-16", {"seats": 15}))
    table = rows([subscription], date(2025, 11, 1), date(2025, 12, 1))
    cycle, increase = by_day(table), by_day(table, "seat_increase")
    assert cycle[date(2025, 11, 1)]["billed_amount"] == Decimal("120.00")
    assert {cycle[date(2025, 11, d)]["amount"] for d in range(1, 31)} == {Decimal("4.00")}
    assert sorted(increase) == [date(2025, 11, 16) + timedelta(days=n) for n in range(15)]
    assert increase[date(2025, 11, 16)]["billed_amount"] == Decimal("30.00")
    assert increase[date(2025, 11, 16)]["seats"] == 5 and increase[date(2025, 11, 16)]["version"] == 2
    assert {r["amount"] for r in increase.values()} == {Decimal("2.00")}
    assert {r["billed_amount"] for d, r in increase.items() if d != date(2025, 11, 16)} == {Decimal(0)}
    november = [r for r in table if r["charge_date"].month == 11]
    assert total(november, "billed_amount") == total(november, "amount") == Decimal("150.00")
    assert cycle[date(2025, 12, 1)]["billed_amount"] == Decimal("180.00")
    assert (cycle[date(2025, 12, 1)]["seats"], cycle[date(2025, 12, 1)]["amount"]) == (15, Decimal("5.81"))


def test_a_seat_decrease_waits_for_the_next_cycle():
    # 10 -> 4 seats from Nov 16: November keeps its 10 paid seats (no refund, no row of its own); the Dec 1 cycle
    # prices 4 x 12.00 = 48.00.
    subscription = plan("saas_golden_down", (None, SLACK), ("2025-11-16", {"seats": 4}))
    table = rows([subscription], date(2025, 11, 1), date(2025, 12, 1))
    assert {r["charge_kind"] for r in table} == {"cycle"}
    assert total([r for r in table if r["charge_date"].month == 11], "amount") == Decimal("120.00")
    assert by_day(table)[date(2025, 12, 1)]["billed_amount"] == Decimal("48.00")


def test_annual_plan_bills_once_and_its_year_sums_exactly_to_the_price():
    # 7 seats x 100.00 a year from 2024-03-10: the cycle 2024-03-10 - 2025-03-10 holds no Feb 29 (2024's is before
    # it), so 365 days. 700.00 / 365 = 1.9178 -> 1.92 a day; the last day (2025-03-09) carries
    # 700.00 - 364 x 1.92 = 1.12. Billed once, on 2024-03-10.
    annual = {
        **SLACK,
        "seats": 7,
        "unit_price": "100.00",
        "billing_cycle": "annual",
        "start_date": "2024-03-10",
    }
    table = rows([plan("saas_golden_year", (None, annual))], date(2024, 3, 10), date(2025, 3, 9))
    assert len(table) == 365
    assert [r["charge_date"] for r in table if r["billed_amount"]] == [date(2024, 3, 10)]
    assert total(table, "billed_amount") == total(table, "amount") == Decimal("700.00")
    assert by_day(table)[date(2025, 3, 9)]["amount"] == Decimal("1.12")
    assert {r["amount"] for r in table[:-1]} == {Decimal("1.92")}
    # The next cycle (2025-03-10 - 2026-03-10) holds no Feb 29: 365 days again; one from 2027-03-10 holds
    # 2028-02-29: 366 days, 700.00 / 366 = 1.9125... -> 1.91, last day 700.00 - 365 x 1.91 = 2.85.
    leap = rows([plan("saas_golden_leap", (None, annual))], date(2027, 3, 10), date(2028, 3, 9))
    assert len(leap) == 366 and total(leap, "amount") == Decimal("700.00")
    assert by_day(leap)[date(2028, 3, 9)]["amount"] == Decimal("2.85")


def test_a_backdated_change_leaves_the_days_before_it_untouched():
    # Entered on Nov 20, effective Nov 10: the days before Nov 10 are priced exactly as before the change.
    before = plan("saas_golden_late", (None, SLACK))
    after = plan("saas_golden_late", (None, SLACK), ("2025-11-10", {"seats": 13}))
    old, new = (
        rows([before], date(2025, 11, 1), date(2025, 11, 30)),
        rows([after], date(2025, 11, 1), date(2025, 11, 30)),
    )
    assert [r for r in new if r["charge_date"] < date(2025, 11, 10)] == [
        r for r in old if r["charge_date"] < date(2025, 11, 10)
    ]
    # From Nov 10: 3 more seats x 12.00 x 21/30 = 25.20, billed Nov 10, 1.20 a day for 21 days.
    increase = by_day(new, "seat_increase")
    assert min(increase) == date(2025, 11, 10) and len(increase) == 21
    assert increase[date(2025, 11, 10)]["billed_amount"] == Decimal("25.20")
    assert total(new, "amount") == Decimal("145.20")


def test_discounts_percent_then_fixed_amount_per_cycle_and_list_before_them():
    # 20 seats x 15.00 = 300.00 list; 10 % off -> 270.00; 20.00 off the cycle -> 250.00 net, billed Nov 1.
    # Net per day 250.00 / 30 = 8.3333 -> 8.33, last day 250.00 - 29 x 8.33 = 8.43; list 10.00 a day.
    discounted = {
        **SLACK,
        "seats": 20,
        "unit_price": "15.00",
        "discount_percent": "10",
        "discount_amount": "20.00",
    }
    table = rows([plan("saas_golden_disc", (None, discounted))], date(2025, 11, 1), date(2025, 11, 30))
    assert total(table, "billed_amount") == total(table, "amount") == Decimal("250.00")
    assert total(table, "list_amount") == Decimal("300.00")
    assert by_day(table)[date(2025, 11, 30)]["amount"] == Decimal("8.43")
    assert by_day(table)[date(2025, 11, 2)]["amount"] == Decimal("8.33")


def test_two_currencies_keep_their_own_and_minor_units():
    # EUR 8 x 15.00 = 120.00 (4.00 a day); JPY 3 x 1,000 = 3,000 over 30 days = 100 a day, no decimals.
    euro = {**SLACK, "seats": 8, "unit_price": "15.00", "currency": "EUR"}
    yen = {**SLACK, "seats": 3, "unit_price": "1000", "currency": "JPY", "anniversary_day": 5}
    table = rows(
        [plan("saas_golden_eur", (None, euro)), plan("saas_golden_jpy", (None, yen))],
        date(2025, 11, 1),
        date(2025, 11, 30),
    )
    assert total(table, "amount", currency="EUR") == Decimal("120.00")
    # The yen plan starts Nov 1, anniversary the 5th: a first cycle Nov 1-5 of 4 days out of Oct 5 - Nov 5 (31):
    # 3,000 x 4/31 = 387.09... -> 387 billed Nov 1; then the Nov 5 cycle (30 days): 3,000, 100 a day.
    jpy = [r for r in table if r["currency"] == "JPY"]
    assert [r["billed_amount"] for r in jpy if r["billed_amount"]] == [Decimal(387), Decimal(3000)]
    assert total(jpy, "amount") == Decimal(387) + 26 * Decimal(100)
    assert {r["amount"].as_tuple().exponent for r in jpy} == {-9}  # NUMERIC scale; values whole yen
    assert all(r["amount"] == r["amount"].to_integral_value() for r in jpy)


def test_an_ended_plan_runs_out_its_paid_cycle_and_starts_no_other():
    # Ended from Nov 20 (exclusive end): November was billed Nov 1 and keeps all 30 days; no cycle on Dec 1.
    ended = plan("saas_golden_end", (None, SLACK), ("2025-11-20", {"end_date": "2025-11-20"}))
    table = rows([ended], date(2025, 11, 1), date(2025, 12, 31))
    assert max(r["charge_date"] for r in table) == date(2025, 11, 30)
    assert total(table, "amount") == total(table, "billed_amount") == Decimal("120.00")


def test_a_rerun_gives_identical_rows_and_tags_travel_as_json():
    tagged = {**SLACK, "tags": {"team": "sales", "cost_center": "cc-7"}}
    plans = [plan("saas_golden_rerun", (None, tagged), ("2025-11-16", {"seats": 15}))]
    first, again = (
        rows(plans, date(2025, 11, 1), date(2025, 11, 30)),
        rows(plans, date(2025, 11, 1), date(2025, 11, 30)),
    )
    assert first == again
    assert json.loads(first[0]["tags"]) == {"cost_center": "cc-7", "team": "sales"}


def test_a_price_change_waits_for_the_next_cycle_even_beside_a_seat_increase():
    # Nov 16: 15 seats at 14.00. The increase is priced as November is: 5 x 12.00 x 15/30 = 30.00 (its row says
    # 12.00); the new price starts with the Dec 1 cycle: 15 x 14.00 = 210.00.
    subscription = plan(
        "saas_golden_price", (None, SLACK), ("2025-11-16", {"seats": 15, "unit_price": "14.00"})
    )
    table = rows([subscription], date(2025, 11, 1), date(2025, 12, 1))
    increase = by_day(table, "seat_increase")[date(2025, 11, 16)]
    assert (increase["billed_amount"], increase["unit_price"]) == (Decimal("30.00"), Decimal("12.00"))
    assert by_day(table)[date(2025, 12, 1)]["billed_amount"] == Decimal("210.00")


def test_slices_of_a_window_price_exactly_as_the_whole_window():
    # A fanned-out run prices each slice on its own: the days of Nov 1-10 and Nov 11-Dec 5 are the days of
    # Nov 1-Dec 5, whichever slice holds a charge's invoice day or its last (remainder) day.
    plans = [
        plan("saas_golden_slices", (None, SLACK), ("2025-11-16", {"seats": 15})),
        plan(
            "saas_golden_slices_year",
            (None, {**SLACK, "billing_cycle": "annual", "start_date": "2025-03-01"}),
        ),
    ]
    whole = rows(plans, date(2025, 11, 1), date(2025, 12, 5))
    parts = rows(plans, date(2025, 11, 1), date(2025, 11, 10)) + rows(
        plans, date(2025, 11, 11), date(2025, 12, 5)
    )
    key = lambda row: (row["subscription_id"], row["charge_date"], row["charge_kind"])
    assert sorted(parts, key=key) == sorted(whole, key=key)


def test_a_backdated_change_before_a_later_one_leaves_the_later_one_in_force():
    # Entered in this order: +5 seats from Nov 16 (v2), then a plan rename backdated to Nov 10 (v3). The rename
    # applies from Nov 10; the seats stay 10 until Nov 16 and 15 from then on (prorated 30.00, as before v3).
    subscription = plan(
        "saas_golden_order",
        (None, SLACK),
        ("2025-11-16", {"seats": 15}),
        ("2025-11-10", {"plan": "Enterprise"}),
    )
    table = rows([subscription], date(2025, 11, 1), date(2025, 12, 1))
    increase = by_day(table, "seat_increase")
    assert min(increase) == date(2025, 11, 16) and increase[date(2025, 11, 16)]["billed_amount"] == Decimal(
        "30.00"
    )
    assert (
        increase[date(2025, 11, 16)]["plan"] == "Enterprise" and increase[date(2025, 11, 16)]["version"] == 3
    )
    assert (
        by_day(table)[date(2025, 12, 1)]["seats"] == 15
        and by_day(table)[date(2025, 12, 1)]["plan"] == "Enterprise"
    )
    assert subscription["terms"]["seats"] == 15 and subscription["terms"]["plan"] == "Enterprise"
