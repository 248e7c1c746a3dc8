"""AWS in the standard suite: a recorded slice of a FOCUS 1.0 Data Exports export (Nov 2025, days 1-3: hourly
usage of six services over four linked accounts, a Savings Plan and a reservation with their fees, covered usage
and unused rest, tax, a credit and a refund) written into the S3 stand-in as a delivery of two Parquet files and
its manifest, and the rows the pipeline writes for 2025-11-02..03 (its window widens to whole periods)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from devstack.standins.s3 import S3_STANDIN
from shared.providers.aws import PROVIDER
from tests.providers.case import ProviderCase

FOLDER = Path(__file__).parent
METADATA = {
    "bucket": "suite-billing-exports",
    "prefix": "exports/focus",
    "export_name": "suite-focus",
    "region": "us-east-1",
    "role_arn": "arn:aws:iam::111122223333:role/dps-suite-reader",
}
TIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")


def recorded_rows() -> list[dict]:
    """The recorded export rows (timestamps parsed, maps as dicts)."""
    rows = json.loads((FOLDER / "pages" / "export_2025-11.json").read_text())
    for row in rows:
        for key in TIMES:
            row[key] = datetime.fromisoformat(row[key])
    return rows


def seed_export(warehouse, metadata: dict, settings) -> None:
    """Write the recorded rows into the stand-in as the export's November delivery: two Parquet files, then the
    manifest (the same execution every time: a re-run finds nothing changed)."""
    from devstack.providers.aws.delivery import rows_table, write_delivery
    from shared.providers.aws.s3 import s3_client

    client = s3_client(metadata, settings, 10.0, "dps-suite")
    if metadata["bucket"] not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=metadata["bucket"])
    rows = recorded_rows()
    chunks = [rows_table(rows[:20]), rows_table(rows[20:])]
    write_delivery(
        client, metadata["bucket"], metadata["prefix"], metadata["export_name"], date(2025, 11, 1), chunks,
        execution_id="5f0c2b7e-suite-0001", rows_per_file=20,
    )  # fmt: skip


CASE = ProviderCase(
    provider=PROVIDER,
    folder=FOLDER,
    pipeline_id="aws/cost/billing",
    start=date(2025, 11, 2),
    end=date(2025, 11, 3),
    secret="",
    metadata=METADATA,
    seed_source=seed_export,
    standins=(S3_STANDIN,),
    invalid_credentials=(
        ("", {**METADATA, "role_arn": "arn:aws:iam::1234:role/x"}, "12-digit account"),
        ("", {**METADATA, "bucket": "Suite_Exports"}, "not an S3 bucket name"),
        ("", {**METADATA, "bucket": "192.168.1.10"}, "IP address"),
        ("", {**METADATA, "region": "useast1"}, "not an AWS region"),
        ("AKIAIOSFODNN7EXAMPLE", METADATA, "takes no secret"),
        ("", {k: v for k, v in METADATA.items() if k != "export_name"}, "metadata.export_name is required"),
    ),
)
