"""The demo org's AWS export in the local S3 (moto keeps it in memory: rewritten whenever the demo onboards):
this month through yesterday, and the previous month, whose second revision restates it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devstack.providers.aws.export import write_month
from shared.providers.kit.exports.periods import month_start, next_month

DEMO_METADATA = {
    "bucket": "acme-billing-exports",
    "prefix": "focus",
    "export_name": "acme-focus-daily",
    "region": "us-east-1",
    "role_arn": "arn:aws:iam::111122223333:role/dps-billing-reader",
}


def local_s3_client(settings):
    """boto3's S3 client on the local stand-in (the local credentials it accepts)."""
    from shared.providers.aws.s3 import s3_client

    if not settings.storage_endpoint("aws"):
        raise RuntimeError("AWS_STORAGE_ENDPOINT is not set: the AWS demo writes into the local S3 only")
    return s3_client(DEMO_METADATA, settings, 30.0, "dps-demo")


def seed_demo_export(settings, rows_per_day: int = 150) -> dict:
    """Write the demo export (the previous month twice: a restatement; this month through yesterday)."""
    client = local_s3_client(settings)
    bucket = DEMO_METADATA["bucket"]
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    this_month = month_start(yesterday)
    previous = month_start(this_month - timedelta(days=1))
    common = (client, bucket, DEMO_METADATA["prefix"], DEMO_METADATA["export_name"])
    for revision in (0, 1):  # the second manifest restates the previous month
        write_month(*common, previous, next_month(previous) - timedelta(days=1), rows_per_day=rows_per_day,
                    revision=revision)  # fmt: skip
    write_month(*common, this_month, yesterday, rows_per_day=rows_per_day)
    return dict(DEMO_METADATA)
