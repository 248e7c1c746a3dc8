"""What the synthetic Azure export bills: two MCA billing profiles (USD and EUR) of one billing account, their
subscriptions and resource groups, the meters they use, and `line()`: one FOCUS 1.0 / 1.2-preview export row
(columns as in learn.microsoft.com/cloud-computing/finops/focus/metadata, FocusCost) with its costs computed."""

from __future__ import annotations

import calendar
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

ACCOUNT = "a1b2c3d4-0000-4000-8000-000000000001:e5f6a7b8-0000-4000-8000-000000000002_2019-05-31"
ACCOUNT_ID = f"/providers/Microsoft.Billing/billingAccounts/{ACCOUNT}"
# Columns only FocusCost 1.2-preview has (a 1.0 file has none of them; 1.0 names the invoice in x_InvoiceId).
V12_ONLY = (
    "CapacityReservationId",
    "CapacityReservationStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
    "InvoiceId",
    "PricingCurrency",
    "ServiceSubcategory",
    "SkuMeter",
    "SkuPriceDetails",
    "x_AmortizationClass",
)
NUMBERS = ("ContractedUnitPrice", "ListUnitPrice", "x_BillingExchangeRate", "x_PricingBlockSize")
MONEY = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "x_BilledCostInUsd",
    "x_EffectiveCostInUsd",
    "x_ListCostInUsd",
    "x_ContractedCostInUsd",
)
QUANTITIES = ("PricingQuantity", "ConsumedQuantity")


@dataclass(frozen=True)
class Profile:
    """An MCA billing profile: the FOCUS billing account of its rows, in its own currency."""

    key: str
    name: str
    currency: str
    usd_rate: Decimal  # billing currency per USD (x_BillingExchangeRate of USD-priced meters)

    @property
    def id(self) -> str:
        return f"{ACCOUNT_ID}/billingProfiles/{self.key}"


@dataclass(frozen=True)
class Subscription:
    guid: str
    name: str
    profile: Profile
    resource_group: str
    tags: dict


@dataclass(frozen=True)
class Meter:
    """A priced meter: ServiceName (FOCUS), the meter's category and name, its unit and unit price (USD)."""

    service: str
    category: str
    subcategory: str
    name: str
    unit: str
    price: Decimal
    resource_type: str
    resource_kind: str  # the resource provider path segment of its ResourceId
    region: str = "westeurope"


USD = Profile("AB12-CD34-EF5-GHI", "Contoso US", "USD", Decimal(1))
EUR = Profile("JK67-LM89-NO1-PQR", "Contoso EU", "EUR", Decimal("0.92"))
SUBSCRIPTIONS = (
    Subscription("5a1c0e2e-0000-4000-8000-00000000c001", "contoso-prod", USD, "rg-web", {"env": "prod"}),
    Subscription("5a1c0e2e-0000-4000-8000-00000000c002", "contoso-data", USD, "rg-data", {"team": "data"}),
    Subscription("5a1c0e2e-0000-4000-8000-00000000c003", "contoso-eu", EUR, "rg-eu-web", {"env": "prod"}),
)
METERS = (
    Meter("Virtual Machines", "Virtual Machines", "Dv5 Series", "D4s v5", "1 Hour", Decimal("0.192"),
          "Microsoft.Compute/virtualMachines", "microsoft.compute/virtualmachines"),
    Meter("Virtual Machines", "Virtual Machines", "Dv5 Series", "D2s v5", "1 Hour", Decimal("0.096"),
          "Microsoft.Compute/virtualMachines", "microsoft.compute/virtualmachines"),
    Meter("Storage Accounts", "Storage", "Hot LRS", "Hot LRS Data Stored", "1 GB/Month", Decimal("0.0208"),
          "Microsoft.Storage/storageAccounts", "microsoft.storage/storageaccounts"),
    Meter("SQL Database", "SQL Database", "General Purpose - Compute Gen5", "vCore", "1 Hour", Decimal("0.5"),
          "Microsoft.Sql/servers/databases", "microsoft.sql/servers"),
    Meter("Azure OpenAI", "Cognitive Services", "Azure OpenAI", "gpt-4o-0806 Input global Tokens", "1M",
          Decimal("2.5"), "Microsoft.CognitiveServices/accounts", "microsoft.cognitiveservices/accounts"),
    Meter("Cognitive Services", "Cognitive Services", "Language", "Text Analytics Standard", "1K",
          Decimal(1), "Microsoft.CognitiveServices/accounts", "microsoft.cognitiveservices/accounts"),
    Meter("Bandwidth", "Bandwidth", "Rtn Preference: MGN", "Standard Data Transfer Out", "1 GB",
          Decimal("0.087"), "Microsoft.Network/publicIPAddresses", "microsoft.network/publicipaddresses"),
)  # fmt: skip
UNITS = {"1 Hour": "Hours", "1 GB/Month": "GB-Months", "1M": "Tokens", "1K": "Transactions", "1 GB": "GB"}
BLOCK = {"1M": Decimal(1_000_000), "1K": Decimal(1000)}


def month_end(day: date) -> date:
    """The first day of the next month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1]) + timedelta(days=1)


def _instant(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.000000001"))


def line(
    sub: Subscription, meter: Meter | None, day: date, quantity: Decimal, *, resource: str = "", **overrides
) -> dict:
    """One export row: `quantity` pricing units of `meter` on `day` in `sub`, costs in the profile's currency
    (unit price × quantity × rate); `overrides` replace any column (commitments, credits, refunds, tax)."""
    profile = sub.profile
    # Prices are per block of units ("1M" tokens); FOCUS quantities count units, so the unit price is per unit.
    block = BLOCK.get(meter.unit, Decimal(1)) if meter else Decimal(1)
    price = meter.price * profile.usd_rate if meter else Decimal(0)
    cost = _money(price * quantity)
    usd = _money(meter.price * quantity) if meter else Decimal(0)
    resource_id = (
        f"/subscriptions/{sub.guid}/resourcegroups/{sub.resource_group}/providers/{meter.resource_kind}/{resource}"
        if meter and resource
        else None
    )
    month = day.replace(day=1)
    row = {
        "AvailabilityZone": None,
        "BilledCost": cost,
        "BillingAccountId": profile.id,
        "BillingAccountName": profile.name,
        "BillingAccountType": "Billing Profile",
        "BillingCurrency": profile.currency,
        "BillingPeriodEnd": _instant(month_end(day)),
        "BillingPeriodStart": _instant(month),
        "CapacityReservationId": None,
        "CapacityReservationStatus": None,
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": f"{meter.name} - {meter.subcategory}" if meter else None,
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _instant(day + timedelta(days=1)),
        "ChargePeriodStart": _instant(day),
        "CommitmentDiscountCategory": None,
        "CommitmentDiscountId": None,
        "CommitmentDiscountName": None,
        "CommitmentDiscountQuantity": None,
        "CommitmentDiscountStatus": None,
        "CommitmentDiscountType": None,
        "CommitmentDiscountUnit": None,
        "ConsumedQuantity": _money(quantity * block) if meter else None,
        "ConsumedUnit": UNITS.get(meter.unit) if meter else None,
        "ContractedCost": cost,
        "ContractedUnitPrice": _money(price / block) if meter else None,
        "EffectiveCost": cost,
        "InvoiceId": None,
        "InvoiceIssuerName": "Microsoft",
        "ListCost": cost,
        "ListUnitPrice": _money(price / block) if meter else None,
        "PricingCategory": "Standard",
        "PricingCurrency": "USD",
        "PricingQuantity": _money(quantity * block) if meter else None,
        "PricingUnit": UNITS[meter.unit] if meter else None,
        "ProviderName": "Microsoft",
        "PublisherName": "Microsoft",
        "RegionId": meter.region if meter else None,
        "RegionName": "West Europe" if meter else None,
        "ResourceId": resource_id,
        "ResourceName": resource or None,
        "ResourceType": meter.resource_type.rsplit("/", 1)[-1] if meter and resource else None,
        "ServiceCategory": None,
        "ServiceName": meter.service if meter else "Azure Prepayment",
        "ServiceSubcategory": None,
        "SkuId": f"DZH318Z0{zlib.crc32(meter.name.encode()) % 10000:04d}" if meter else None,
        "SkuMeter": meter.name if meter else None,
        "SkuPriceDetails": None,
        "SkuPriceId": None,
        "SubAccountId": f"/subscriptions/{sub.guid}",
        "SubAccountName": sub.name,
        "SubAccountType": "Subscription",
        "Tags": json.dumps(sub.tags, sort_keys=True) if meter and resource else None,
        "x_AccountName": None,
        "x_AmortizationClass": None,
        "x_BilledCostInUsd": usd,
        "x_BillingAccountId": ACCOUNT,
        "x_BillingAccountName": "Contoso Ltd",
        "x_BillingExchangeRate": profile.usd_rate,
        "x_BillingProfileId": profile.key,
        "x_BillingProfileName": profile.name,
        "x_ContractedCostInUsd": usd,
        "x_EffectiveCostInUsd": usd,
        "x_InvoiceId": None,
        "x_InvoiceSectionName": "Engineering",
        "x_ListCostInUsd": usd,
        "x_PricingCurrency": "USD",
        "x_PricingBlockSize": block,
        "x_PricingSubcategory": "Standard",
        "x_PricingUnitDescription": meter.unit if meter else None,
        "x_ResourceGroupName": sub.resource_group if resource else None,
        "x_SkuDescription": meter.name if meter else None,
        "x_SkuMeterCategory": meter.category if meter else None,
        "x_SkuMeterName": meter.name if meter else None,
        "x_SkuMeterSubcategory": meter.subcategory if meter else None,
        "x_SkuRegion": "EU West" if meter else None,
        "x_SkuTerm": None,
    }
    unknown = set(overrides) - set(row)
    if unknown:
        raise KeyError(f"not export columns: {sorted(unknown)}")
    row.update(overrides)
    return row
