"""The FOCUS rules the validator does not check (tests/focus_conformance.py): each one sees the row that breaks it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.focus_conformance import column_violations, violations

NOV, DEC = datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)
DAY = datetime(2025, 11, 3, tzinfo=UTC)
USAGE = {
    "BilledCost": Decimal("1.5"),
    "EffectiveCost": Decimal("1.5"),
    "ListCost": Decimal(2),
    "ContractedCost": Decimal("1.5"),
    "PricingQuantity": Decimal(3),
    "ConsumedQuantity": Decimal(3),
    "BillingPeriodStart": NOV,
    "BillingPeriodEnd": DEC,
    "ChargePeriodStart": DAY,
    "ChargePeriodEnd": datetime(2025, 11, 4, tzinfo=UTC),
    "ChargeCategory": "Usage",
    "ChargeClass": None,
    "SkuId": "sku-1",
    "Tags": '{"team": "web"}',
}


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"BilledCost": 1.5}, "BilledCost is not a Decimal"),
        ({"ChargePeriodStart": datetime(2025, 11, 3)}, "ChargePeriodStart is not a UTC datetime"),
        ({"ChargePeriodEnd": DAY}, "ChargePeriodEnd must be after ChargePeriodStart (exclusive end)"),
        (
            {"ChargeClass": "Correction"},
            "ChargeClass Correction only for charges of an earlier billing period",
        ),
        (
            {"PricingQuantity": None},
            "PricingQuantity must not be null for Usage/Purchase that is not a Correction",
        ),
        ({"ConsumedQuantity": None}, "ConsumedQuantity must not be null for Usage that is not a Correction"),
        (
            {"ChargeCategory": "Tax", "PricingQuantity": None, "ConsumedQuantity": None},
            "SkuId must be null for Tax",
        ),
        ({"Tags": "[1, 2]"}, "Tags must be a JSON object with string keys"),
        ({"CommitmentDiscountStatus": "Unused"}, "ConsumedQuantity must be null for unused commitment"),
    ],
)
def test_each_rule_sees_the_row_that_breaks_it(change, rule):
    assert violations([USAGE]) == {}
    assert violations([{**USAGE, **change}]) == {rule: 1}


def test_a_correction_of_an_earlier_period_conforms():
    earlier = {
        "ChargePeriodStart": datetime(2025, 10, 30, tzinfo=UTC),
        "ChargePeriodEnd": datetime(2025, 10, 31, tzinfo=UTC),
    }
    assert violations([{**USAGE, **earlier, "ChargeClass": "Correction", "PricingQuantity": None}]) == {}


def test_unused_commitment_has_no_consumed_quantity():
    assert violations([{**USAGE, "CommitmentDiscountStatus": "Unused", "ConsumedQuantity": None}]) == {}


def test_custom_columns_need_the_x_prefix():
    assert "custom column Model lacks the x_ prefix" in column_violations(["Model", "x_model"])
