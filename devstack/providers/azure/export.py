"""Synthetic Azure Cost Management FOCUS exports: a small month with every kind of charge (usage, reservations and a
savings plan amortised, Azure Prepayment credit, a refund, tax, two billing currencies), and large months generated
vectorised (5 million rows stream through in batches), written as Cost Management delivers them (layout.py)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from devstack.providers.azure.catalogue import EUR, METERS, MONEY, QUANTITIES, SUBSCRIPTIONS, V12_ONLY, line
from devstack.providers.azure.catalogue import NUMBERS as PRICES

NUMBER = pa.decimal128(38, 9)
INSTANT = pa.timestamp("us", tz="UTC")
NUMBERS = {*MONEY, *QUANTITIES, *PRICES}
INSTANTS = {"BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"}
PROD, DATA, EU = SUBSCRIPTIONS
VM_D4, VM_D2, STORAGE, SQL, OPENAI, LANGUAGE, BANDWIDTH = METERS
RESERVATION = (
    "/providers/Microsoft.Capacity/reservationOrders/7f3b0000-0000-4000-8000-0000000000r1/reservations/"
    "7f3b0000-0000-4000-8000-0000000000r2"
)
SAVINGS_PLAN = (
    "/providers/Microsoft.BillingBenefits/savingsPlanOrders/8e4c0000-0000-4000-8000-0000000000s1/savingsPlans/"
    "8e4c0000-0000-4000-8000-0000000000s2"
)


def _month_start(day: date):
    from datetime import UTC, datetime

    return datetime(day.year, day.month, 1, tzinfo=UTC)


def _reserved(**extra) -> dict:
    return {
        "CommitmentDiscountId": RESERVATION,
        "CommitmentDiscountName": "vm-d4s-v5-1y",
        "CommitmentDiscountCategory": "Usage",
        "CommitmentDiscountType": "Reservation",
        "PricingCategory": "Committed",
        "x_PricingSubcategory": "Committed Usage",
        **extra,
    }


def _saved(**extra) -> dict:
    return {
        "CommitmentDiscountId": SAVINGS_PLAN,
        "CommitmentDiscountName": "compute-sp-1y",
        "CommitmentDiscountCategory": "Spend",
        "CommitmentDiscountType": "Savings Plan",
        "PricingCategory": "Committed",
        "x_PricingSubcategory": "Committed Spend",
        **extra,
    }


def sample_rows(first: date, scale: Decimal = Decimal(1)) -> list[dict]:
    """Three days from `first` of a small org: every kind of charge once (amounts: unit price × quantity, shown
    beside each line). `scale` multiplies the usage quantities (a restated run bills different amounts)."""
    d1, d2, d3 = first, first + timedelta(days=1), first + timedelta(days=2)
    zero = Decimal(0)
    return [
        # Pay-as-you-go VM: 24 h × 0.192 = 4.608 USD
        line(PROD, VM_D4, d1, 24 * scale, resource="vm-web-01"),
        # VM under the reservation: billed 0 (the purchase bills it), amortised 24 h × 0.116 = 2.784 USD
        line(PROD, VM_D4, d1, Decimal(24), resource="vm-web-02",
             **_reserved(BilledCost=zero, EffectiveCost=Decimal("2.784"), CommitmentDiscountStatus="Used")),
        # The reservation bought upfront on day 1: 1016.16 USD billed once, effective 0 (amortised over usage)
        line(PROD, None, d1, zero,
             **_reserved(ChargeCategory="Purchase", ChargeFrequency="One-Time", BilledCost=Decimal("1016.16"),
                         EffectiveCost=zero, ListCost=Decimal("1016.16"), ContractedCost=Decimal("1016.16"),
                         ChargeDescription="Reserved VM Instance, Standard_D4s_v5, EU West, 1 Year",
                         ServiceName="Virtual Machines", x_SkuTerm=12, PricingQuantity=Decimal(1),
                         PricingUnit="Units")),
        # Hours of the reservation nobody used on day 2: billed 0, effective 2 h × 0.116 = 0.232 USD
        line(PROD, VM_D4, d2, Decimal(2),
             **_reserved(BilledCost=zero, EffectiveCost=Decimal("0.232"), CommitmentDiscountStatus="Unused",
                         ChargeDescription="Unused reservation: D4s v5", ConsumedQuantity=None, ConsumedUnit=None)),
        # The savings plan's monthly fee: 43.80 USD billed (Recurring), effective 0
        line(PROD, None, d1, zero,
             **_saved(ChargeCategory="Purchase", ChargeFrequency="Recurring", BilledCost=Decimal("43.80"),
                      EffectiveCost=zero, ListCost=Decimal("43.80"), ContractedCost=Decimal("43.80"),
                      ChargeDescription="Savings plan for compute, 1 Year, monthly", ServiceName="Virtual Machines",
                      PricingQuantity=Decimal(1), PricingUnit="Units", x_SkuTerm=12)),
        # VM under the savings plan: billed 0, effective 24 h × 0.06 = 1.44 USD
        line(DATA, VM_D2, d2, Decimal(24), resource="vm-etl-01",
             **_saved(BilledCost=zero, EffectiveCost=Decimal("1.44"), CommitmentDiscountStatus="Used")),
        # Blob storage: 250 GB-month × 0.0208 / 30 days ≈ 8.333333333 units × 0.0208 = 0.173333333 USD
        line(DATA, STORAGE, d1, Decimal("8.333333333") * scale, resource="contosodatalake"),
        # SQL Database vCore: 24 h × 0.5 = 12.00 USD
        line(DATA, SQL, d2, Decimal(24) * scale, resource="sql-orders/databases/orders"),
        # Azure OpenAI input tokens: 2.5 M × 2.5 = 6.25 USD
        line(PROD, OPENAI, d3, Decimal("2.5") * scale, resource="oai-contoso"),
        # Language API: 12 K × 1 = 12.00 USD
        line(PROD, LANGUAGE, d3, Decimal(12) * scale, resource="lang-contoso"),
        # Data transfer out: 100 GB × 0.087 = 8.70 USD
        line(PROD, BANDWIDTH, d3, Decimal(100) * scale, resource="pip-web"),
        # Azure Prepayment applied: -20.00 USD (a Credit)
        line(PROD, None, d3, zero, ChargeCategory="Credit", ChargeFrequency="One-Time", BilledCost=Decimal(-20),
             EffectiveCost=Decimal(-20), ListCost=zero, ContractedCost=zero, ChargeDescription="Azure Prepayment",
             x_BilledCostInUsd=Decimal(-20), x_EffectiveCostInUsd=Decimal(-20)),
        # A refund of last month's reservation exchange, on this month's invoice: -150.00 USD, a correction of the
        # invoiced October (its charge period is October's last day)
        line(PROD, None, first.replace(day=1) - timedelta(days=1), zero, BillingPeriodStart=_month_start(first),
             BillingPeriodEnd=_month_start(first + timedelta(days=31)),
             **_reserved(ChargeCategory="Purchase", ChargeClass="Correction", ChargeFrequency="One-Time",
                         BilledCost=Decimal(-150), EffectiveCost=zero, ListCost=Decimal(-150),
                         ContractedCost=Decimal(-150), ChargeDescription="Reservation refund (exchange)",
                         ServiceName="Virtual Machines", x_PricingSubcategory="Refund")),
        # EUR profile: a VM, 24 h × 0.192 × 0.92 = 4.23936 EUR
        line(EU, VM_D4, d1, 24 * scale, resource="vm-eu-01"),
        # EUR profile: VAT 19 % of 4.23936 = 0.805478 EUR (no SKU, no quantity)
        line(EU, None, d3, zero, ChargeCategory="Tax", ChargeFrequency="One-Time", BilledCost=Decimal("0.805478"),
             EffectiveCost=Decimal("0.805478"), ListCost=zero, ContractedCost=zero, ChargeDescription="VAT 19%",
             ServiceName="Virtual Machines", PricingCategory=None),
    ]  # fmt: skip


def export_schema(columns: list[str]) -> pa.Schema:
    """Typed columns as the Parquet export has them (CSV writes them as text)."""

    def kind(name: str) -> pa.DataType:
        if name in NUMBERS:
            return NUMBER
        if name in INSTANTS:
            return INSTANT
        return pa.int64() if name == "x_SkuTerm" else pa.string()

    return pa.schema([(name, kind(name)) for name in columns])


def rows_table(rows: list[dict], version: str = "1.0") -> pa.Table:
    """Export rows as a typed table in the export's column order (FOCUS columns, then x_), for `version` (1.0
    has no 1.2-preview column; 1.2-preview names the invoice in InvoiceId)."""
    if version not in ("1.0", "1.2-preview"):
        raise ValueError(f"FocusCost version {version} is not 1.0 or 1.2-preview")
    columns = sorted(rows[0], key=lambda c: (c.startswith("x_"), c))
    if version == "1.0":
        columns = [c for c in columns if c not in V12_ONLY]
    rows = [{**row, "ServiceSubcategory": None} for row in rows]
    return pa.Table.from_pylist([{c: row[c] for c in columns} for row in rows], schema=export_schema(columns))


def _templates(month: date, version: str) -> pa.Table:
    """One unit of every (subscription, meter) pair: the rows a large month is drawn from."""
    rows = [line(sub, meter, month, Decimal(1), resource=f"res-{n:03d}") for n, (sub, meter) in
            enumerate((s, m) for s in SUBSCRIPTIONS for m in METERS)]  # fmt: skip
    return rows_table(rows, version)


def bulk_batches(
    month: date, days: int, rows_per_day: int, seed: int = 7, version: str = "1.0", batch_rows: int = 100_000
) -> Iterator[pa.RecordBatch]:
    """`rows_per_day` usage rows for each of `days` days from `month`'s first: drawn from the templates, each
    with a deterministic quantity (0.01 .. 100.00 units), costs scaled exactly (decimal arithmetic)."""
    import numpy as np

    templates = _templates(month, version)
    scaled = [c for c in templates.column_names if c in (*MONEY, *QUANTITIES)]
    for day_number in range(days):
        day = month + timedelta(days=day_number)
        start = pa.scalar(pc.cast(pa.scalar(day), INSTANT).as_py(), INSTANT)
        for offset in range(0, rows_per_day, batch_rows):
            n = min(batch_rows, rows_per_day - offset)
            rng = np.random.default_rng(zlib.crc32(f"{seed}/{day}/{offset}".encode()))
            picks = pa.array(rng.integers(0, templates.num_rows, n))
            # hundredths of a unit: an integer times 0.01, exact
            hundredths = pa.array(rng.integers(1, 10_001, n), pa.int32()).cast(pa.decimal128(12, 0))
            quantity = pc.cast(
                pc.multiply(hundredths, pa.scalar(Decimal("0.01"), pa.decimal128(3, 2))), pa.decimal128(8, 2)
            )
            batch = templates.take(picks)
            for name in scaled:
                product = pc.multiply(pc.cast(batch[name], pa.decimal128(20, 9)), quantity)
                batch = batch.set_column(batch.schema.get_field_index(name), name, _round(product))
            batch = batch.set_column(batch.schema.get_field_index("ChargePeriodStart"), "ChargePeriodStart",
                                     pa.repeat(start, n))  # fmt: skip
            end = pa.scalar(start.as_py() + timedelta(days=1), INSTANT)
            batch = batch.set_column(batch.schema.get_field_index("ChargePeriodEnd"), "ChargePeriodEnd",
                                     pa.repeat(end, n))  # fmt: skip
            yield from batch.combine_chunks().to_batches()


def _round(values) -> pa.Array:
    return pc.cast(pc.round(values, 9, round_mode="half_towards_infinity"), NUMBER)


def eur_rows(rows: list[dict]) -> list[dict]:
    """The rows billed in EUR (the second billing profile)."""
    return [row for row in rows if row["BillingCurrency"] == EUR.currency]
