"""FOCUS 1.2 conformance rules for cost_focus rows, as the specification states them (specification/columns/*.md
of FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec): mandatory columns, nullability, allowed values, formats."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal

from shared.providers.kit.focus import CHARGE_CATEGORIES, SERVICE_CATEGORIES

# Mandatory (and the conditional ones this table carries) FOCUS 1.2 columns: each must be present.
MANDATORY = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
CONDITIONAL = (
    "SubAccountId",
    "SubAccountName",
    "RegionId",
    "RegionName",
    "AvailabilityZone",
    "ResourceId",
    "ResourceName",
    "SkuId",
    "Tags",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ChargeFrequency",
    "InvoiceId",
    "ServiceSubcategory",
    "CommitmentDiscountId",
    "CommitmentDiscountCategory",
    "CommitmentDiscountType",
    "CommitmentDiscountStatus",
)
NOT_NULL = (
    "BilledCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
DECIMALS = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "PricingQuantity",
    "ConsumedQuantity",
)
DATETIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")
CURRENCY = re.compile(r"[A-Z]{3}")  # ISO 4217 alphabetic code (CurrencyFormat)


def column_violations(columns: list[str]) -> list[str]:
    """Columns a FOCUS dataset must have but the table lacks, and custom columns without the x_ prefix."""
    known = set(MANDATORY) | set(CONDITIONAL)
    missing = [f"missing column {name}" for name in (*MANDATORY, *CONDITIONAL) if name not in columns]
    return missing + [
        f"custom column {name} lacks the x_ prefix"
        for name in columns
        if name not in known and not name.startswith("x_")
    ]


def _null_iff(row: dict, quantity: str, unit: str) -> list[str]:
    if (row[quantity] is None) != (row[unit] is None):
        return [f"{unit} must be null exactly when {quantity} is null"]
    return []


def _quantity_rules(row: dict) -> list[str]:
    problems = _null_iff(row, "PricingQuantity", "PricingUnit") + _null_iff(
        row, "ConsumedQuantity", "ConsumedUnit"
    )
    category, correction = row["ChargeCategory"], row["ChargeClass"] == "Correction"
    if category == "Tax" and row["PricingQuantity"] is not None:
        problems.append("PricingQuantity must be null for Tax")
    if category in ("Usage", "Purchase") and not correction and row["PricingQuantity"] is None:
        problems.append("PricingQuantity must not be null for Usage/Purchase that is not a Correction")
    if category != "Usage" and row["ConsumedQuantity"] is not None:
        problems.append("ConsumedQuantity must be null unless ChargeCategory is Usage")
    return problems


def _value_rules(row: dict) -> list[str]:
    problems = []
    if row["ChargeCategory"] not in CHARGE_CATEGORIES:
        problems.append(f"ChargeCategory {row['ChargeCategory']!r} not allowed")
    if row["ChargeClass"] not in (None, "Correction"):
        problems.append(f"ChargeClass {row['ChargeClass']!r} not allowed")
    if row["ServiceCategory"] not in SERVICE_CATEGORIES:
        problems.append(f"ServiceCategory {row['ServiceCategory']!r} not allowed")
    if row.get("ChargeFrequency") not in (None, *CHARGE_FREQUENCIES):
        problems.append(f"ChargeFrequency {row['ChargeFrequency']!r} not allowed")
    if not CURRENCY.fullmatch(row["BillingCurrency"] or ""):
        problems.append(f"BillingCurrency {row['BillingCurrency']!r} is not an ISO 4217 code")
    if not row["ChargeDescription"]:
        problems.append("ChargeDescription should not be null")
    return problems


def _shape_rules(row: dict) -> list[str]:
    problems = [
        f"{name} is not a Decimal"
        for name in DECIMALS
        if row[name] is not None and type(row[name]) is not Decimal
    ]
    problems += [
        f"{name} is not a UTC datetime"
        for name in DATETIMES
        if not (isinstance(row[name], datetime) and row[name].utcoffset().total_seconds() == 0)
    ]
    if not problems:
        if not row["BillingPeriodEnd"] > row["BillingPeriodStart"]:
            problems.append("BillingPeriodEnd must be after BillingPeriodStart (exclusive end)")
        if not row["ChargePeriodEnd"] > row["ChargePeriodStart"]:
            problems.append("ChargePeriodEnd must be after ChargePeriodStart (exclusive end)")
    for name, depends in (("SubAccountName", "SubAccountId"), ("ResourceName", "ResourceId")):
        if row[name] is not None and row[depends] is None:
            problems.append(f"{name} must be null when {depends} is null")
    if row["RegionId"] is not None and row["RegionName"] is None:
        problems.append("RegionName must not be null when RegionId is not null")
    tags = row["Tags"]
    if tags is not None:
        tags = json.loads(tags) if isinstance(tags, str) else tags
        if not isinstance(tags, dict) or not all(isinstance(k, str) for k in tags):
            problems.append("Tags must be a JSON object with string keys")
    return problems


def row_violations(row: dict) -> list[str]:
    """Every rule one cost_focus row breaks (empty when it conforms)."""
    missing = [f"{name} must not be null" for name in NOT_NULL if row.get(name) is None]
    if missing:
        return missing
    return _value_rules(row) + _quantity_rules(row) + _shape_rules(row)


def violations(rows: list[dict]) -> dict[str, int]:
    """Rule → number of rows breaking it, over all rows (empty when every row conforms)."""
    counts: dict[str, int] = {}
    for row in rows:
        for problem in row_violations(row):
            counts[problem] = counts.get(problem, 0) + 1
    return counts
