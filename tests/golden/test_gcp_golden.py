"""Golden tests: a recorded billing export slice → the transform → expected gcp_billing_daily and cost_focus rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from devstack.providers.gcp import rowwise
from shared.platform.errors import TerminalError
from shared.platform.settings import DEFAULT_CONFIG_DIR
from shared.providers.gcp.focus import focus_rows
from shared.providers.gcp.transform import raw_rows, source_schema
from shared.providers.kit.focus import service_classes
from tests.focus_conformance import violations
from tests.kit.golden import jsonable

GOLDEN = Path(__file__).parent / "gcp"
PAGES = Path(__file__).resolve().parents[1] / "providers" / "gcp" / "pages"
RUN_ID = "run_golden_gcp_0001"
INGESTED_AT = datetime(2025, 11, 6, 6, 0, tzinfo=UTC)
AUDIT = {
    "x_source_table": "acme-billing.billing.gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9",
    "x_pipeline_logging_id": RUN_ID,
    "x_ingested_at": INGESTED_AT,
}
TIMESTAMPS = ("usage_start_time", "usage_end_time", "export_time")


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def export_slice(name: str = "export_slice.json") -> pa.Table:
    """The recorded rows as the source query returns them: partition_date, then the export's columns."""
    rows = []
    for row in json.loads((PAGES / name).read_text()):
        row = {**row, **{key: _timestamp(row[key]) for key in TIMESTAMPS}}
        row["partition_date"] = _timestamp(row.pop("_PARTITIONTIME")).date()
        if row["price"]:
            row["price"] = {k: Decimal(v) if k != "unit" else v for k, v in row["price"].items()}
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=source_schema(DEFAULT_CONFIG_DIR))


def _transformed():
    raw = raw_rows(export_slice(), AUDIT)
    return raw, focus_rows(raw, DEFAULT_CONFIG_DIR, RUN_ID, INGESTED_AT)


def _expected(name: str) -> list[dict]:
    return json.loads((GOLDEN / name).read_text())


def test_export_slice_becomes_expected_raw_rows():
    raw, _ = _transformed()
    assert jsonable(raw.to_pylist()) == _expected("expected_raw_rows.json")


def test_export_slice_becomes_expected_focus_rows():
    _, focus = _transformed()
    assert jsonable(focus.to_pylist()) == _expected("expected_focus_rows.json")


def test_totals_to_the_cent_and_beyond():
    """Hand-computed: net cost = cost + credits, exact to NUMERIC's 9 decimals, per currency."""
    _, focus = _transformed()
    rows = focus.to_pylist()
    usd = sum(r["BilledCost"] for r in rows if r["BillingCurrency"] == "USD")
    assert usd == Decimal("19.999822321")  # 0.217654321 + 1.99 + 5.625 + 0.7312 - 1.25 + 0.000001 + 0.315 ...
    assert (
        sum(r["BilledCost"] for r in rows if r["BillingCurrency"] == "EUR") == 0
    )  # a promotion covers it all
    first = rows[0]  # 0.1 + 0.2 as FLOAT64, -0.07 and -0.0123456789 (rounded at the 9th decimal)
    assert (first["ContractedCost"], first["x_credits_total"], first["BilledCost"]) == (
        Decimal("0.300000000"),
        Decimal("-0.082345679"),
        Decimal("0.217654321"),
    )
    assert first["ListCost"] == Decimal("0.35") and first["x_credits_sustained_use"] == Decimal("-0.07")


def test_charge_kinds_periods_and_tags_follow_the_mapping():
    _, focus = _transformed()
    storage, bq, tax, adjustment, rounding, eur, market, late, unknown = focus.to_pylist()[1:]
    assert json.loads(focus.to_pylist()[0]["Tags"]) == {
        "app": "web",
        "env": "staging",
        "team": "web",
        "compute.googleapis.com/machine_spec": "n2-standard-4",
    }
    # The recorded FEE_UTILIZATION_OFFSET credit is a committed-use credit (it was "other" before issue 15).
    assert json.loads(storage["Tags"])["note"] == 'say "hi" \\ bye' and storage[
        "x_credits_committed_use"
    ] == Decimal("-0.01")
    assert storage["x_credits_promotion"] == Decimal("-0.5") and bq["RegionId"] is None
    assert (tax["ChargeCategory"], tax["PricingQuantity"], tax["ChargeClass"]) == ("Tax", None, None)
    assert tax["ChargePeriodEnd"] - tax["ChargePeriodStart"] == timedelta(
        hours=1
    )  # zero-length in the export
    assert (adjustment["ChargeCategory"], adjustment["ChargeClass"]) == ("Adjustment", "Correction")
    assert adjustment["ChargeDescription"] == "Usage correction: N2 core overcharge"
    # November's invoice, in Pacific time: PDT on the 1st, PST on December 1st.
    assert adjustment["BillingPeriodStart"] == datetime(2025, 11, 1, 7, tzinfo=UTC)
    assert adjustment["BillingPeriodEnd"] == datetime(2025, 12, 1, 8, tzinfo=UTC)
    assert rounding["SubAccountId"] is None and rounding["PricingQuantity"] is None
    assert (eur["BillingCurrency"], eur["x_currency_conversion_rate"]) == ("EUR", Decimal("0.9187"))
    assert market["PublisherName"] == "Elasticsearch B.V." and market["ServiceCategory"] == "Analytics"
    assert late["x_source_partition"] == date(2025, 11, 2) and unknown["ServiceCategory"] == "Other"


def test_golden_focus_rows_conform_to_focus():
    _, focus = _transformed()
    assert violations(focus.to_pylist()) == {}


def test_vectorised_transform_equals_the_row_by_row_reference():
    raw, focus = _transformed()
    classes, default = service_classes(DEFAULT_CONFIG_DIR, "Google Cloud")
    reference = [rowwise.raw_row(row, AUDIT) for row in export_slice().to_pylist()]
    assert raw.to_pylist() == reference
    assert focus.to_pylist() == rowwise.focus_rows(reference, classes, default, RUN_ID, INGESTED_AT)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e30])
def test_amounts_that_do_not_fit_numeric_fail_terminally(bad):
    table = export_slice()
    table = table.set_column(table.schema.get_field_index("cost"), "cost", pa.array([bad] * table.num_rows))
    with pytest.raises(TerminalError) as caught:
        raw_rows(table, AUDIT)
    assert caught.value.code == "PROVIDER_BAD_DATA"
