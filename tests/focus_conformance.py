"""FOCUS 1.2 rules for cost_focus rows that the FinOps Foundation's validator (tests/kit/focus_validator.py) does not
check: it skips them as dynamic or not implemented, or (for quantities) passes rows that break them. Everything else
(presence, nullability, allowed values, formats, units) is the validator's."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

# The FOCUS 1.2 columns cost_focus carries; any other column must be a custom one, prefixed x_.
FOCUS_COLUMNS = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "AvailabilityZone",
    "ResourceId",
    "ResourceName",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
)
# Money and quantities are exact decimals (the validator's CheckDecimalValue is "not yet implemented").
DECIMALS = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "PricingQuantity",
    "ConsumedQuantity",
)
DATETIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")


def column_violations(columns: list[str]) -> list[str]:
    """FOCUS columns the table lacks, and custom columns without the x_ prefix."""
    missing = [f"missing column {name}" for name in FOCUS_COLUMNS if name not in columns]
    return missing + [
        f"custom column {name} lacks the x_ prefix"
        for name in columns
        if name not in FOCUS_COLUMNS and not name.startswith("x_")
    ]


def _types(row: dict) -> list[str]:
    problems = [
        f"{name} is not a Decimal"
        for name in DECIMALS
        if row[name] is not None and type(row[name]) is not Decimal
    ]
    return problems + [
        f"{name} is not a UTC datetime"
        for name in DATETIMES
        if not (
            isinstance(row[name], datetime)
            and row[name].utcoffset() is not None
            and not row[name].utcoffset()
        )
    ]


def _periods(row: dict) -> list[str]:
    problems = []
    if not row["BillingPeriodEnd"] > row["BillingPeriodStart"]:
        problems.append("BillingPeriodEnd must be after BillingPeriodStart (exclusive end)")
    if not row["ChargePeriodEnd"] > row["ChargePeriodStart"]:
        problems.append("ChargePeriodEnd must be after ChargePeriodStart (exclusive end)")
    # ChargeClass: a correction is of a previously invoiced billing period, so its charge precedes its own.
    if row["ChargeClass"] == "Correction" and not row["ChargePeriodStart"] < row["BillingPeriodStart"]:
        problems.append("ChargeClass Correction only for charges of an earlier billing period")
    return problems


def _quantities(row: dict) -> list[str]:
    problems = []
    category, correction = row["ChargeCategory"], row["ChargeClass"] == "Correction"
    if category in ("Usage", "Purchase") and not correction and row["PricingQuantity"] is None:
        problems.append("PricingQuantity must not be null for Usage/Purchase that is not a Correction")
    # Every provider here measures usage (USAGE_MEASUREMENT_SUPPORTED), so every usage row says how much, except the
    # commitment no usage used (CommitmentDiscountStatus Unused), where FOCUS wants it null.
    unused = row.get("CommitmentDiscountStatus") == "Unused"
    if category == "Usage" and not correction and not unused and row["ConsumedQuantity"] is None:
        problems.append("ConsumedQuantity must not be null for Usage that is not a Correction")
    if unused and row["ConsumedQuantity"] is not None:
        problems.append("ConsumedQuantity must be null for unused commitment")
    if category == "Tax" and row["SkuId"] is not None:
        problems.append("SkuId must be null for Tax")
    return problems


def _tags(row: dict) -> list[str]:
    tags = row["Tags"]
    if tags is None:
        return []
    tags = json.loads(tags) if isinstance(tags, str) else tags
    if not isinstance(tags, dict) or not all(isinstance(key, str) for key in tags):
        return ["Tags must be a JSON object with string keys"]
    return []


def row_violations(row: dict) -> list[str]:
    """Every rule of this module one cost_focus row breaks (empty when it conforms)."""
    problems = _types(row)
    if problems:
        return problems
    return _periods(row) + _quantities(row) + _tags(row)


def violations(rows: list[dict]) -> dict[str, int]:
    """Rule → number of rows breaking it, over all rows (empty when every row conforms)."""
    counts: dict[str, int] = {}
    for row in rows:
        for problem in row_violations(row):
            counts[problem] = counts.get(problem, 0) + 1
    return counts
