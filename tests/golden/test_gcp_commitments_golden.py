"""Golden cases of issue 15 for GCP, from the export's documented shape (Cloud Billing detailed usage cost export;
spend-based CUDs' new data model: `consumption_model`, `cost_at_effective_price_default`, $1 CUD fee SKUs offset by
FEE_UTILIZATION_OFFSET credits; resource-manager `tags`): each amount and expected FOCUS value worked by hand below.

Defect 3: the new CUD model (ContractedCost, the offset credit, tags). Defect 4: CUD fees are purchases, amortised
onto the usage they cover. Defect 6: FOCUS rules on GCP rows (SkuId on tax, units, InvoiceId, Correction)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa

from devstack.providers.gcp import catalogue, rowwise
from shared.platform.settings import DEFAULT_CONFIG_DIR
from shared.providers.gcp.focus import focus_rows
from shared.providers.gcp.transform import raw_rows, source_schema
from shared.providers.kit.focus import service_classes

RUN, NOW = "run_golden_cud", datetime(2025, 11, 6, 6, 0, tzinfo=UTC)
AUDIT = {"x_source_table": "p.d.gcp_billing_export_v1_X", "x_pipeline_logging_id": RUN, "x_ingested_at": NOW}
ACCOUNT = "01A2B3-C4D5E6-F7A8B9"
HOUR = datetime(2025, 11, 3, 10, tzinfo=UTC)  # 02:00 Pacific on Nov 3: partition 2025-11-03, invoice 202511
FLEX = {"id": "5F2A-CUD0-1YR0", "description": "Compute Flexible CUD - 1 Year"}
DEFAULT = {"id": "D2C2-DEFA-0000", "description": "Default"}


def _project(pid: str) -> dict:
    return {"id": pid, "number": "318000111", "name": pid.title(), "labels": [], "ancestry_numbers": "/6123/"}


def row(sku: str, description: str, cost: float, **extra) -> dict:
    """One export row as the source query returns it: Compute Engine in acme-web-prod, 10:00-11:00 UTC."""
    base = {
        "partition_date": date(2025, 11, 3),
        "billing_account_id": ACCOUNT,
        "service": {"id": "6F81-5844-456A", "description": "Compute Engine"},
        "sku": {"id": sku, "description": description},
        "usage_start_time": HOUR,
        "usage_end_time": HOUR.replace(hour=11),
        "project": _project("acme-web-prod"),
        "labels": [],
        "system_labels": [],
        "location": {"location": "us-central1", "country": "US", "region": "us-central1", "zone": None},
        "export_time": datetime(2025, 11, 3, 18, tzinfo=UTC),
        "cost": cost,
        "currency": "USD",
        "currency_conversion_rate": 1.0,
        "usage": {
            "amount": 3600.0,
            "unit": "seconds",
            "amount_in_pricing_units": 1.0,
            "pricing_unit": "hour",
        },
        "credits": [],
        "invoice": {"month": "202511"},
        "cost_type": "regular",
        "adjustment_info": None,
        "cost_at_list": cost,
        "transaction_type": "GOOGLE",
        "seller_name": "Google",
        "resource": None,
        "price": None,
        "consumption_model": None,
        "cost_at_effective_price_default": None,
        "tags": [],
    }
    return {**base, **extra}


def credit(kind: str, amount: float) -> dict:
    """One `credits` entry (negative amount)."""
    return {
        "name": kind.title(),
        "amount": amount,
        "full_name": kind.title(),
        "id": kind.lower(),
        "type": kind,
    }


def transform(rows: list[dict]) -> list[dict]:
    """cost_focus rows of `rows`, checked against the row-by-row reference."""
    source = pa.Table.from_pylist(rows, schema=source_schema(DEFAULT_CONFIG_DIR))
    raw = raw_rows(source, AUDIT)
    focus = focus_rows(raw, DEFAULT_CONFIG_DIR, RUN, NOW).to_pylist()
    classes, default = service_classes(DEFAULT_CONFIG_DIR, "Google Cloud")
    reference = [rowwise.raw_row(r, AUDIT) for r in source.to_pylist()]
    assert focus == rowwise.focus_rows(reference, classes, default, RUN, NOW)
    return focus


# Defect 3. New model, one hour of a Compute flexible CUD committing $0.80/h of discounted spend:
#   covered N2 usage: on-demand (default effective price) 1.00, list 1.25, at the CUD's 28% discount cost 0.72
#   fee SKU ($1 a unit): 0.80 units, cost 0.80, FEE_UTILIZATION_OFFSET -0.72 (the used part) → net 0.08 (unused)
NEW_MODEL = [
    row(
        "CP-N2-CORE",
        "N2 Instance Core running in Americas",
        0.72,
        cost_at_list=1.25,
        cost_at_effective_price_default=1.0,
        consumption_model=FLEX,
        labels=[{"key": "env", "value": "staging"}],
        tags=[
            {"key": "env", "value": "prod", "inherited": True, "namespace": "612345678901"},
            {"key": "cost-center", "value": "cc-100", "inherited": False, "namespace": "acme-web-prod"},
        ],
    ),
    row(
        "CUD-FLEX-FEE-1Y",
        "Commitment fee: Compute Flexible CUD - 1 Year",
        0.8,
        consumption_model=FLEX,
        cost_at_effective_price_default=0.8,
        usage={"amount": 0.8, "unit": "dollar", "amount_in_pricing_units": 0.8, "pricing_unit": "dollar"},
        credits=[credit("FEE_UTILIZATION_OFFSET", -0.72)],
    ),
]


def test_new_cud_model_contracted_cost_offset_credit_and_tags():
    usage, fee, unused = transform(NEW_MODEL)
    # ContractedCost is the negotiated price without the CUD: cost_at_effective_price_default 1.00, not cost 0.72.
    assert (usage["BilledCost"], usage["EffectiveCost"], usage["ContractedCost"], usage["ListCost"]) == (
        Decimal("0.72"),
        Decimal("0.72"),
        Decimal("1.00"),
        Decimal("1.25"),
    )
    # The offset is a committed-use credit: x_credits_committed_use -0.72, nothing in "other".
    assert (fee["x_credits_committed_use"], fee["x_credits_other"]) == (Decimal("-0.72"), 0)
    # Labels and tags side by side; a tag key is "<namespace>/<key>" (a label key has no "/").
    assert json.loads(usage["Tags"]) == {
        "env": "staging",
        "612345678901/env": "prod",
        "acme-web-prod/cost-center": "cc-100",
    }
    assert (usage["CommitmentDiscountStatus"], usage["CommitmentDiscountCategory"]) == ("Used", "Spend")
    assert usage["CommitmentDiscountId"] == f"billingAccounts/{ACCOUNT}/consumptionModels/5F2A-CUD0-1YR0"
    # The fee is a purchase billed at its net 0.80 - 0.72 = 0.08; the 0.08 unused is a Usage row of its own.
    assert (fee["ChargeCategory"], fee["ChargeFrequency"], fee["BilledCost"], fee["EffectiveCost"]) == (
        "Purchase",
        "Recurring",
        Decimal("0.08"),
        0,
    )
    assert (unused["ChargeCategory"], unused["CommitmentDiscountStatus"]) == ("Usage", "Unused")
    assert (unused["BilledCost"], unused["EffectiveCost"], unused["ConsumedQuantity"]) == (
        0,
        Decimal("0.08"),
        None,
    )
    assert unused["CommitmentDiscountId"] == fee["CommitmentDiscountId"] == usage["CommitmentDiscountId"]
    # The invoice: 0.72 + 0.08 = 0.80 billed, and 0.80 effective (0.72 used + 0.08 unused).
    rows = (usage, fee, unused)
    assert sum(r["BilledCost"] for r in rows) == sum(r["EffectiveCost"] for r in rows) == Decimal("0.80")


# Defect 4. Legacy resource-based CUD, one hour: the fee "Commitment v1: CPU in Americas for 1 Year" costs 1.00 (billed
# to acme-web-prod); three covered N2 rows of 0.40 on-demand, each cancelled by a COMMITTED_USAGE_DISCOUNT of -0.40
# (net 0): two in acme-web-prod, one in acme-data-prod. Amortised by credit, 1.00 x 0.40 / 1.20 each: 0.333333333,
# 0.333333333 and the remainder 1.00 - 0.666666666 = 0.333333334 on the last, so the shares sum to the fee exactly.
# "Last" is by the rows' own values (commitments.ORDER_COLUMNS: description, SKU, then project), not the export's
# row order: acme-data-prod sorts before acme-web-prod, so one acme-web-prod row takes the remainder.
COVERED = {"credits": [credit("COMMITTED_USAGE_DISCOUNT", -0.4)], "cost_at_list": 0.4}
LEGACY = [
    row("CUD-V1-CPU-1Y", "Commitment v1: CPU in Americas for 1 Year", 1.0),
    row("CP-N2-CORE", "N2 Instance Core running in Americas", 0.4, **COVERED),
    row("CP-N2-CORE", "N2 Instance Core running in Americas", 0.4, **COVERED),
    row(
        "CP-N2-CORE",
        "N2 Instance Core running in Americas",
        0.4,
        **COVERED,
        project=_project("acme-data-prod"),
    ),
]


def test_cud_fee_is_a_purchase_amortised_onto_the_covered_usage():
    fee, *usage = transform(LEGACY)  # no unused row: covered usage carries the whole fee
    assert (fee["ChargeCategory"], fee["ChargeFrequency"], fee["BilledCost"], fee["EffectiveCost"]) == (
        "Purchase",
        "Recurring",
        Decimal("1.00"),
        0,
    )
    assert (fee["CommitmentDiscountCategory"], fee["CommitmentDiscountStatus"]) == ("Usage", None)
    assert [r["EffectiveCost"] for r in usage] == [
        Decimal("0.333333333"),
        Decimal("0.333333334"),
        Decimal("0.333333333"),
    ]
    assert all(r["BilledCost"] == 0 and r["CommitmentDiscountStatus"] == "Used" for r in usage)
    per_project: dict = {}
    for r in (fee, *usage):
        per_project[r["SubAccountId"]] = per_project.get(r["SubAccountId"], 0) + r["EffectiveCost"]
    # Before: all 1.00 on acme-web-prod (the fee's project), 0 on acme-data-prod.
    assert per_project == {"acme-web-prod": Decimal("0.666666667"), "acme-data-prod": Decimal("0.333333333")}
    assert sum(r["BilledCost"] for r in (fee, *usage)) == Decimal("1.00")  # the invoice


# Defect 6. A tax row (Google's carries the tax SKU), an adjustment within its own invoice month and one of October's
# usage on November's invoice, and the pricing units Google writes.
RULES = [
    row("0000-TAX0-VAT0", "Tax: VAT", 0.08, cost_type="tax", usage=None),
    row("CP-N2-CORE", "N2 Instance Core running in Americas", -0.1, cost_type="adjustment", usage=None),
    row(
        "CP-N2-CORE",
        "N2 Instance Core running in Americas",
        -0.2,
        cost_type="adjustment",
        usage=None,
        usage_start_time=datetime(2025, 10, 30, tzinfo=UTC),
        usage_end_time=datetime(2025, 10, 31, tzinfo=UTC),
    ),
    *(
        row(
            "SKU-" + unit,
            "Usage in " + unit,
            0.01,
            usage={"amount": 1.0, "unit": consumed, "amount_in_pricing_units": 1.0, "pricing_unit": unit},
        )
        for unit, consumed in (
            ("10 thousand requests", "requests"),
            ("1k characters", "count"),
            ("gibibyte month", "byte-seconds"),
            ("vCPU-second", "vCPU-seconds"),
            ("tebibyte", "bytes"),
        )
    ),
]


def test_focus_rules_on_gcp_rows():
    tax, same_month, earlier, *units = transform(RULES)
    assert (tax["ChargeCategory"], tax["SkuId"], tax["ChargeFrequency"]) == ("Tax", None, "One-Time")
    # Only the correction of an already invoiced month (October usage, November invoice) is a Correction.
    assert (same_month["ChargeCategory"], same_month["ChargeClass"]) == ("Adjustment", None)
    assert (earlier["ChargeCategory"], earlier["ChargeClass"]) == ("Adjustment", "Correction")
    assert [(r["PricingUnit"], r["ConsumedUnit"]) for r in units] == [
        ("10000 Requests", "Requests"),
        ("1000 Characters", "Counts"),
        ("GiB-Months", "B-Seconds"),
        ("vCPU-Seconds", "vCPU-Seconds"),
        ("TiB", "B"),
    ]
    # One invoice per billing account and invoice month: the id is the pair, on every row.
    assert {r["InvoiceId"] for r in (tax, same_month, earlier, *units)} == {f"{ACCOUNT}/202511"}


def test_every_row_of_every_case_keeps_the_focus_rules():
    for rows in (NEW_MODEL, LEGACY, RULES):
        for r in transform(rows):
            assert r["ChargeFrequency"] is not None
            assert r["ChargeCategory"] != "Tax" or r["SkuId"] is None
            usage = r["ChargeCategory"] == "Usage" and r["ChargeClass"] is None
            if usage and r["CommitmentDiscountStatus"] != "Unused":
                assert r["ConsumedQuantity"] is not None and r["ConsumedUnit"] is not None


def test_every_service_the_sandbox_bills_has_a_subcategory():
    classes, _ = service_classes(DEFAULT_CONFIG_DIR, "Google Cloud")
    assert {service[1] for service in catalogue.SERVICES} <= set(classes)
