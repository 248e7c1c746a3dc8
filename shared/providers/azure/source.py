"""The org's Cost Management export in Blob Storage as deliveries: per billing month, the newest complete export
run (its manifest.json lists its blobs) — the layout of partitioned exports:
<directory>/<export name>/<YYYYMMDD-YYYYMMDD>/<run id>/manifest.json + part_*.csv(.gz)|.parquet for exports that
create a new report per run (dataOverwriteBehavior CreateNewReport), and the same date-range folder rewritten in
place, its manifest naming the latest run, for OverwritePreviousReport (learn.microsoft.com/azure/cost-management-
billing/costs/tutorial-improved-exports: "File partitioning", "manifest file"; REST Exports - Create Or Update:
partitionData, dataOverwriteBehavior, compressionMode)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date

from shared.platform.errors import TerminalError
from shared.platform.logs import log
from shared.providers.azure import constants as az
from shared.providers.azure.blob import BlobReader, container_client, mapped
from shared.providers.contract import StepContext
from shared.providers.kit.exports import Delivery, ExportFile

_RANGE = re.compile(r"/(\d{8})-(\d{8})/")


@dataclass(frozen=True)
class Run:
    """One export run as its manifest describes it."""

    manifest: str
    run_id: str
    submitted: str  # runInfo.submittedTime (ISO 8601: sorts as text)
    month: date
    files: tuple[ExportFile, ...]


def file_kind(name: str) -> tuple[str, str | None]:
    """(format, compression) of a delivered blob from its name: .csv, .csv.gz, .parquet (snappy inside)."""
    lower = name.lower()
    if lower.endswith(".parquet"):
        return "parquet", None
    if lower.endswith(".gz"):
        return "csv", "gzip"
    if lower.endswith(".csv"):
        return "csv", None
    raise TerminalError("PROVIDER_BAD_DATA", f"export blob {name} is neither CSV nor Parquet")


def _month(manifest_name: str, run_info: dict) -> date:
    found = _RANGE.search("/" + manifest_name)
    text = found.group(1) if found else str(run_info.get("startDate", ""))[:10].replace("-", "")
    try:
        return date(int(text[:4]), int(text[4:6]), 1)
    except ValueError:
        raise TerminalError(
            "PROVIDER_BAD_DATA", f"export manifest {manifest_name} names no billing month (runInfo.startDate)"
        ) from None


def parse_manifest(name: str, body: bytes, container: str) -> Run:
    """A manifest.json (manifestVersion 2024-04-01: runInfo, blobs[{blobName, byteCount, dataRowCount}])."""
    try:
        manifest = json.loads(body)
        run_info, blobs = manifest.get("runInfo") or {}, manifest["blobs"]
        files = []
        for blob in blobs:
            path = blob["blobName"].removeprefix(f"{container}/")
            files.append(ExportFile(path, int(blob.get("byteCount") or 0), *file_kind(path)))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TerminalError("PROVIDER_BAD_DATA", f"export manifest {name} is not a manifest: {exc}") from None
    run_id = str(run_info.get("runId") or name)
    return Run(name, run_id, str(run_info.get("submittedTime") or ""), _month(name, run_info), tuple(files))


def delivery_id(run: Run) -> str:
    """The run id and a digest of its blobs' names and sizes: a rerun, or a run rewritten in place, differs."""
    listing = "\n".join(f"{f.name}\t{f.size}" for f in sorted(run.files, key=lambda f: f.name))
    return f"{run.run_id}:{hashlib.sha256(listing.encode()).hexdigest()[:16]}"


def _in_months(name: str, first: date, last: date) -> bool:
    """False only when the manifest's date-range folder names a month outside [first, last]."""
    found = _RANGE.search("/" + name)
    if not found:
        return True
    month = date(int(found.group(1)[:4]), int(found.group(1)[4:6]), 1)
    return first.replace(day=1) <= month <= last


class AzureExportSource:
    """The ExportSource of one org's export (shared.providers.kit.exports)."""

    def __init__(self, ctx: StepContext):
        metadata = ctx.credential.metadata
        self.ctx, self.container = ctx, container_client(ctx)
        self.container_name = metadata["container"]
        self.prefix = f"{metadata['directory'].strip('/')}/{metadata['export_name']}/"
        self._deliveries: dict[tuple[date, date], list[Delivery]] = {}

    def _listing(self) -> dict[str, int]:
        with mapped(f"listing the export under {self.prefix}"):
            return {blob.name: blob.size for blob in self.container.list_blobs(name_starts_with=self.prefix)}

    def _runs(self, listing: dict[str, int], first: date, last: date) -> list[Run]:
        runs = []
        for name in sorted(listing):
            if name.rsplit("/", 1)[-1] == az.MANIFEST and _in_months(name, first, last):
                with mapped(f"reading {name}"):
                    body = self.container.get_blob_client(name).download_blob().readall()
                runs.append(parse_manifest(name, body, self.container_name))
        return runs

    def deliveries(self, first: date, last: date) -> list[Delivery]:
        """Per billing month overlapping [first, last]: its newest run whose blobs are all there, whole (read
        once per source: the step reads them before the warehouse, so a failing source fails first)."""
        if (first, last) not in self._deliveries:
            self._deliveries[first, last] = self._newest(first, last)
        return self._deliveries[first, last]

    def _newest(self, first: date, last: date) -> list[Delivery]:
        listing = self._listing()
        newest: dict[date, Run] = {}
        for run in sorted(
            self._runs(listing, first, last), key=lambda r: (r.submitted, r.run_id), reverse=True
        ):
            complete = all(
                listing.get(f.name) == f.size or (f.size == 0 and f.name in listing) for f in run.files
            )
            if not complete:
                log(
                    "WARNING",
                    f"azure export run {run.run_id} ({run.manifest}) lists blobs not (yet) there",
                    org_slug=self.ctx.org_slug,
                    pipeline_logging_id=self.ctx.run_id,
                )
                continue
            newest.setdefault(run.month, run)
        return [
            Delivery(month, delivery_id(run), run.files)
            for month, run in sorted(newest.items())
            if first.replace(day=1) <= month <= last
        ]

    def open(self, file: ExportFile) -> BlobReader:
        """The blob, streamed by ranged reads."""
        return BlobReader(self.container, file.name, file.size)
