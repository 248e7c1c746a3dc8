"""HTTP run request in, rows out: the AWS Data Exports pipeline end to end on the local stack. A keyless credential
(metadata only) names an export in the S3 stand-in; the run fans the billing period out into day slices, each
streams the delivery's Parquet files; cost_focus holds exactly the export's money."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from devstack.providers.aws.export import month_chunks, write_month
from shared.providers.aws.s3 import s3_client
from shared.providers.aws.transform import to_raw
from shared.tenancy import onboarding
from tests.focus_conformance import violations
from tests.kit.runs import start_run, wait_for_run

OCTOBER, LAST = date(2025, 10, 1), date(2025, 10, 5)
METADATA = {
    "bucket": "e2e-billing-exports",
    "prefix": "focus",
    "export_name": "e2e-focus",
    "region": "us-east-1",
    "role_arn": "arn:aws:iam::111122223333:role/dps-e2e-reader",
}


@pytest.fixture
def aws_org(settings, new_org):
    """An org with a keyless AWS credential; its export holds Oct 1-5, 2025 (one delivery, Parquet)."""
    org = new_org()
    client = s3_client(METADATA, settings, 10.0, "dps-e2e")
    if METADATA["bucket"] not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=METADATA["bucket"])
    write_month(client, METADATA["bucket"], METADATA["prefix"], METADATA["export_name"], OCTOBER, LAST,
                rows_per_day=60, seed=3, rows_per_file=150)  # fmt: skip
    with pytest.raises(onboarding.AdminError, match="takes no secret"):
        onboarding.set_credential(settings, org["org_slug"], "aws", "AKIAIOSFODNN7EXAMPLE", METADATA)
    onboarding.set_credential(
        settings, org["org_slug"], "aws", "", METADATA
    )  # `dps credential set` sans secret
    return org


def _export_totals() -> tuple[int, Decimal, Decimal]:
    """Rows and money of the delivery as written (each double converted once, as the export's reader does)."""
    rows, billed, effective = 0, Decimal(0), Decimal(0)
    for chunk in month_chunks(OCTOBER, LAST, 60, seed=3):
        raw = to_raw(chunk)
        rows += raw.num_rows
        billed += sum(raw["BilledCost"].to_pylist())
        effective += sum(raw["EffectiveCost"].to_pylist())
    return rows, billed, effective


def test_aws_run_over_http_loads_the_exports_money_into_cost_focus(stack, settings, warehouse, aws_org):
    run = wait_for_run(stack, aws_org, start_run(stack, aws_org, {"date": "2025-10-20"}, "aws/cost/billing"))
    assert run["status"] == "COMPLETED", run
    # Oct 20 loads the whole billing period (September is past restatement): 31 days, fanned out in 8-day slices.
    assert run["slices_total"] == run["slices_done"] == 4
    table = f"{settings.project}.{settings.org_dataset(aws_org['org_slug'])}.cost_focus"
    rows = warehouse.query(f"SELECT * FROM `{table}` WHERE ProviderName = 'AWS'")
    expected_rows, billed, effective = _export_totals()
    assert len(rows) == expected_rows
    assert sum(r["BilledCost"] for r in rows) == billed and sum(r["EffectiveCost"] for r in rows) == effective
    assert violations(rows) == {}
    # Re-runs (nothing to reload; forced: the same rows) are the standard suite's and the golden case's: one run
    # per route here keeps the stack tier's time.
