"""Write an AWS Data Exports delivery into S3 as AWS lays it out: data files (Parquet or gzip CSV) under
<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/<executionId>/ (the "create new report" layout), then the period's
<export>-Manifest.json listing them (written last, as AWS does). Files are written streaming through a local
temporary file, so a 5M-row month never sits in memory."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterable
from datetime import date

import pyarrow as pa

from shared.providers.kit.exports.periods import next_month

STRING, DOUBLE, TIMESTAMP = pa.string(), pa.float64(), pa.timestamp("ms")
TEXT_MAP, MONEY_MAP = pa.map_(pa.string(), pa.string()), pa.map_(pa.string(), pa.float64())
# The FOCUS 1.0 with AWS columns table as the export types it (User Guide, "FOCUS 1.0 with AWS columns": string,
# double, timestamp_milliseconds, map), in the table dictionary's order.
EXPORT_SCHEMA = pa.schema(
    [
        ("AvailabilityZone", STRING), ("BilledCost", DOUBLE), ("BillingAccountId", STRING),
        ("BillingAccountName", STRING), ("BillingCurrency", STRING), ("BillingPeriodEnd", TIMESTAMP),
        ("BillingPeriodStart", TIMESTAMP), ("ChargeCategory", STRING), ("ChargeClass", STRING),
        ("ChargeDescription", STRING), ("ChargeFrequency", STRING), ("ChargePeriodEnd", TIMESTAMP),
        ("ChargePeriodStart", TIMESTAMP), ("CommitmentDiscountCategory", STRING), ("CommitmentDiscountId", STRING),
        ("CommitmentDiscountName", STRING), ("CommitmentDiscountStatus", STRING), ("CommitmentDiscountType", STRING),
        ("ConsumedQuantity", DOUBLE), ("ConsumedUnit", STRING), ("ContractedCost", DOUBLE),
        ("ContractedUnitPrice", DOUBLE), ("EffectiveCost", DOUBLE), ("InvoiceIssuerName", STRING),
        ("ListCost", DOUBLE), ("ListUnitPrice", DOUBLE), ("PricingCategory", STRING), ("PricingQuantity", DOUBLE),
        ("PricingUnit", STRING), ("ProviderName", STRING), ("PublisherName", STRING), ("RegionId", STRING),
        ("RegionName", STRING), ("ResourceId", STRING), ("ResourceName", STRING), ("ResourceType", STRING),
        ("ServiceCategory", STRING), ("ServiceName", STRING), ("SkuId", STRING), ("SkuPriceId", STRING),
        ("SubAccountId", STRING), ("SubAccountName", STRING), ("Tags", TEXT_MAP), ("x_CostCategories", TEXT_MAP),
        ("x_Discounts", MONEY_MAP), ("x_Operation", STRING), ("x_ServiceCode", STRING), ("x_UsageType", STRING),
    ]
)  # fmt: skip
_MANIFEST_TYPES = {STRING: "string", DOUBLE: "double", TIMESTAMP: "timestamp_milliseconds"}


def export_root(prefix: str, export_name: str) -> str:
    """<prefix>/<export-name>"""
    return f"{prefix}/{export_name}"


def manifest_key(prefix: str, export_name: str, period: date) -> str:
    """Where the period's manifest goes."""
    return f"{export_root(prefix, export_name)}/metadata/BILLING_PERIOD={period:%Y-%m}/{export_name}-Manifest.json"


def _csv_table(table: pa.Table) -> pa.Table:
    """What a CSV export holds for the same rows: maps as JSON text (timestamps and doubles as text)."""
    for name in ("Tags", "x_CostCategories", "x_Discounts"):
        index = table.schema.get_field_index(name)
        values = [None if v is None else json.dumps(dict(v), sort_keys=True) for v in table[name].to_pylist()]
        table = table.set_column(index, name, pa.array(values, STRING))
    return table


class FileWriter:
    """One data file being written to a local temporary file, uploaded when closed."""

    def __init__(self, fmt: str):
        self.fmt, self.rows = fmt, 0
        handle, self.path = tempfile.mkstemp(suffix=".export")
        os.close(handle)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(self.path, EXPORT_SCHEMA, compression="snappy")
        else:
            from pyarrow import csv

            self._gzip = gzip.open(self.path, "wb", compresslevel=1)  # noqa: SIM115 - closed in upload()
            self._writer = csv.CSVWriter(self._gzip, _csv_table(EXPORT_SCHEMA.empty_table()).schema)

    def write(self, table: pa.Table) -> None:
        """Append rows (of EXPORT_SCHEMA)."""
        self._writer.write_table(table if self.fmt == "parquet" else _csv_table(table))
        self.rows += table.num_rows

    def upload(self, client, bucket: str, key: str) -> None:
        """Close the file, upload it (multipart for big ones), delete the local copy."""
        self._writer.close()
        if self.fmt != "parquet":
            self._gzip.close()
        try:
            client.upload_file(self.path, bucket, key)
        finally:
            os.unlink(self.path)


def write_delivery(
    client,
    bucket: str,
    prefix: str,
    export_name: str,
    period: date,
    chunks: Iterable[pa.Table],
    *,
    execution_id: str,
    fmt: str = "parquet",
    rows_per_file: int = 500_000,
    account: str = "111122223333",
) -> dict:
    """Write the chunks (tables of EXPORT_SCHEMA, in order) as files of at most ~rows_per_file rows, then the
    manifest listing them; returns the manifest."""
    suffix = ".snappy.parquet" if fmt == "parquet" else ".csv.gz"
    folder = f"{export_root(prefix, export_name)}/data/BILLING_PERIOD={period:%Y-%m}/{execution_id}"
    keys, writer = [], None
    for chunk in chunks:
        if writer is None:
            writer = FileWriter(fmt)
        writer.write(chunk)
        if writer.rows >= rows_per_file:
            keys.append(f"{folder}/{export_name}-{len(keys) + 1:05d}{suffix}")
            writer.upload(client, bucket, keys[-1])
            writer = None
    if writer is not None:
        keys.append(f"{folder}/{export_name}-{len(keys) + 1:05d}{suffix}")
        writer.upload(client, bucket, keys[-1])
    manifest = {
        "executionId": execution_id,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{account}:export/{export_name}-0f1e2d3c",
        "billingPeriod": {"start": f"{period}T00:00:00.000Z", "end": f"{next_month(period)}T00:00:00.000Z"},
        "columns": [{"name": f.name, "type": _MANIFEST_TYPES.get(f.type, "map")} for f in EXPORT_SCHEMA],
        "dataFiles": [f"s3://{bucket}/{key}" for key in keys],
        "additionalOutputFiles": [],
    }
    client.put_object(
        Bucket=bucket,
        Key=manifest_key(prefix, export_name, period),
        Body=json.dumps(manifest, indent=1).encode(),
    )
    return manifest


def rows_table(rows: list[dict]) -> pa.Table:
    """Rows given as dicts (FOCUS column names; maps as dicts) as a table of EXPORT_SCHEMA (missing: null)."""
    columns = {}
    for field in EXPORT_SCHEMA:
        values = [row.get(field.name) for row in rows]
        if field.type in (TEXT_MAP, MONEY_MAP):
            values = [None if v is None else list(v.items()) for v in values]
        columns[field.name] = pa.array(values, field.type)
    return pa.table(columns, schema=EXPORT_SCHEMA)
