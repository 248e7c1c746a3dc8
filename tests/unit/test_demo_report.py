"""The demo's side-by-side table: every source in its own column per currency, vendors' rows under their source."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from devstack.demo_report import side_by_side

DAY1, DAY2 = date(2026, 11, 23), date(2026, 11, 24)


def _row(day, provider, currency, effective, billed="0", n=1):
    money = {"billed": Decimal(billed), "effective": Decimal(effective), "list": Decimal(effective), "n": n}
    return {"day": day, "ProviderName": provider, "BillingCurrency": currency, **money}


def test_vendor_rows_sit_under_their_source_and_currencies_never_add():
    rows = [
        _row(DAY1, "AWS", "USD", "10.50", billed="10.50"),
        _row(DAY2, "AWS", "USD", "1.25"),
        _row(DAY1, "Microsoft", "EUR", "3.00"),
        _row(DAY1, "Microsoft", "USD", "4.00"),
        _row(DAY1, "Slack", "USD", "16.67", billed="500.00"),
        _row(DAY1, "Atlassian", "USD", "1.92"),
        _row(DAY1, "Figma", "EUR", "2.00"),
    ]
    columns, cells = side_by_side(rows)
    assert columns == [
        ("AWS", "USD"),
        ("Microsoft Azure", "EUR"),
        ("Microsoft Azure", "USD"),
        ("SaaS subscriptions", "EUR"),
        ("SaaS subscriptions", "USD"),
    ]
    assert cells[(DAY1, ("SaaS subscriptions", "USD"))] == [
        Decimal("500.00"),
        Decimal("18.59"),
        Decimal("18.59"),
        2,
    ]
    assert cells[(DAY2, ("AWS", "USD"))][1] == Decimal("1.25")
    assert (DAY2, ("Microsoft Azure", "EUR")) not in cells
