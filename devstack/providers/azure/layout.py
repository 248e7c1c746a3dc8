"""Writes export runs into Blob Storage the way Cost Management delivers a partitioned FOCUS export: part files,
then the run's manifest.json last (learn.microsoft.com/azure/cost-management-billing/costs/tutorial-improved-exports,
"File partitioning": <directory>/<export>/<YYYYMMDD-YYYYMMDD>/<run id>/ for CreateNewReport; the date-range folder
rewritten in place for OverwritePreviousReport). Files are written to a temporary file batch by batch and uploaded
from it, so a 5-million-row month never sits in memory."""

from __future__ import annotations

import calendar
import contextlib
import functools
import gzip
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

MANIFEST_VERSION = "2024-04-01"
SUBSCRIPTION = (
    "00000000-0000-4000-8000-00000000a2e0"  # the subscription holding the synthetic storage account
)


@dataclass(frozen=True)
class ExportLocation:
    """Where an org's export lives (the credential's metadata)."""

    storage_account: str
    container: str
    directory: str
    export_name: str

    @classmethod
    def of(cls, metadata: dict) -> ExportLocation:
        return cls(
            metadata["storage_account"], metadata["container"], metadata["directory"], metadata["export_name"]
        )


def month_folder(location: ExportLocation, month: date) -> str:
    """<directory>/<export>/<YYYYMMDD-YYYYMMDD>: the month's date-range folder."""
    last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    return f"{location.directory.strip('/')}/{location.export_name}/{month:%Y%m%d}-{last:%Y%m%d}"


def _csv_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Columns as Cost Management's CSV writes them: instants "YYYY-MM-DDTHH:MM:SSZ", numbers as decimal text."""
    arrays = []
    for array in batch.columns:
        if pa.types.is_timestamp(array.type):
            array = pc.strftime(array, format="%Y-%m-%dT%H:%M:%SZ")
        arrays.append(pc.cast(array, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _write_file(path: str, batches: Iterable[pa.RecordBatch], file_format: str) -> int:
    """Write the batches to `path` (csv, csv.gz or parquet); returns the rows written."""
    import pyarrow.parquet as pq
    from pyarrow import csv

    rows, writer = 0, None
    with contextlib.ExitStack() as stack:
        for batch in batches:
            if file_format == "parquet":
                if writer is None:
                    writer = stack.enter_context(pq.ParquetWriter(path, batch.schema, compression="snappy"))
                writer.write_batch(batch)
            else:
                text = _csv_text(batch)
                if writer is None:
                    opener = (
                        functools.partial(gzip.open, compresslevel=1) if file_format == "csv.gz" else open
                    )
                    sink = stack.enter_context(opener(path, "wb"))
                    writer = stack.enter_context(csv.CSVWriter(sink, text.schema))
                writer.write_batch(text)
            rows += batch.num_rows
    return rows


def _runs_folder(location: ExportLocation, month: date, run_id: str, overwrite: bool) -> str:
    folder = month_folder(location, month)
    return folder if overwrite else f"{folder}/{run_id}"


def write_run(
    container,
    location: ExportLocation,
    month: date,
    files: Iterable[Iterable[pa.RecordBatch]],
    *,
    run_id: str,
    submitted: str,
    overwrite: bool,
    file_format: str = "csv.gz",
    version: str = "1.0",
) -> dict:
    """Upload one export run of `month` (one blob per item of `files`), then its manifest; with `overwrite`, the
    month's folder is rewritten in place (blobs of the previous run not rewritten are deleted before the new
    manifest lands). Returns the manifest."""
    folder = _runs_folder(location, month, run_id, overwrite)
    extension = {"csv": "csv", "csv.gz": "csv.gz", "parquet": "snappy.parquet"}[file_format]
    blobs = []
    for number, batches in enumerate(files, start=1):
        name = f"{folder}/part_0_{number:04d}.{extension}"
        with tempfile.NamedTemporaryFile(suffix=f".{extension}") as scratch:
            rows = _write_file(scratch.name, batches, file_format)
            with open(scratch.name, "rb") as data:
                container.upload_blob(name, data, overwrite=True, max_concurrency=2)
            size = container.get_blob_client(name).get_blob_properties().size
        blobs.append({"blobName": name, "byteCount": size, "dataRowCount": rows})
    if overwrite:
        kept = {blob["blobName"] for blob in blobs}
        for stale in container.list_blobs(name_starts_with=f"{folder}/"):
            if stale.name not in kept and stale.name.count("/") == folder.count("/") + 1:
                container.delete_blob(stale.name)
    manifest = _manifest(location, month, blobs, run_id, submitted, overwrite, file_format, version)
    container.upload_blob(f"{folder}/manifest.json", json.dumps(manifest, indent=2).encode(), overwrite=True)
    return manifest


def _manifest(location, month, blobs, run_id, submitted, overwrite, file_format, version) -> dict:
    last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    account = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/finops/providers/Microsoft.Storage/storageAccounts"
    )
    return {
        "manifestVersion": MANIFEST_VERSION,
        "byteCount": sum(blob["byteCount"] for blob in blobs),
        "blobCount": len(blobs),
        "dataRowCount": sum(blob["dataRowCount"] for blob in blobs),
        "exportConfig": {
            "exportName": location.export_name,
            "resourceId": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.CostManagement/exports/"
            f"{location.export_name}",
            "dataVersion": version,
            "apiVersion": "2023-07-01-preview",
            "type": "FocusCost",
            "timeFrame": "MonthToDate",
            "granularity": "Daily",
        },
        "deliveryConfig": {
            "partitionData": True,
            "dataOverwriteBehavior": "OverwritePreviousReport" if overwrite else "CreateNewReport",
            "fileFormat": "Parquet" if file_format == "parquet" else "Csv",
            "compressionMode": {"csv": "None", "csv.gz": "Gzip", "parquet": "Snappy"}[file_format],
            "containerUri": f"{account}/{location.storage_account}",
            "rootFolderPath": location.directory,
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": submitted,
            "runId": run_id,
            "startDate": f"{month:%Y-%m-%d}T00:00:00",
            "endDate": f"{last:%Y-%m-%d}T00:00:00",
        },
        "blobs": blobs,
    }


def local_container(endpoint: str, container: str):
    """A ContainerClient of Azurite's development account at `endpoint` (the container created if missing)."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    from shared.providers.azure.constants import DEV_ACCOUNT, DEV_ACCOUNT_KEY

    service = BlobServiceClient(
        f"{endpoint.rstrip('/')}/{DEV_ACCOUNT}",
        credential={"account_name": DEV_ACCOUNT, "account_key": DEV_ACCOUNT_KEY},
    )
    client = service.get_container_client(container)
    try:
        client.create_container()
    except ResourceExistsError:
        pass
    return client
