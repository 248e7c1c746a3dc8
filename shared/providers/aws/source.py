"""An org's AWS Data Exports export in S3, as the export loader reads it: per billing period, the newest manifest
and the files it lists; each file read through ranged GETs pinned to the listed version (ETag).

Layout (AWS Data Exports User Guide, "Understanding export delivery"):
  s3://<bucket>/<prefix>/<export-name>/data/BILLING_PERIOD=YYYY-MM/...            the data files
  s3://<bucket>/<prefix>/<export-name>/metadata/BILLING_PERIOD=YYYY-MM/<export-name>-Manifest.json
The manifest is written after every data file of an execution, so only the files it lists are read. Its fields
(User Guide, "Data Exports manifest file reference"): executionId, exportArn, columns [{name, type}], dataFiles
(full s3:// URIs), additionalOutputFiles, and the period it covers.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date
from urllib.parse import urlsplit

from shared.platform.errors import TerminalError, TransientError
from shared.providers.aws import constants as aws
from shared.providers.aws.s3 import aws_errors, storage_error
from shared.providers.kit.exports import Delivery, ExportFile
from shared.providers.kit.exports.periods import months

# Columns a FOCUS export must carry for the load to make sense (a CUR 2.0 export would not).
REQUIRED_COLUMNS = ("BilledCost", "BillingCurrency", "ChargePeriodStart", "ServiceName", "EffectiveCost")
_FORMATS = {".snappy.parquet": ("parquet", None), ".parquet": ("parquet", None), ".csv.gz": ("csv", "gzip")}


class S3Export:
    """One export (bucket, prefix, export name) read through an S3 client."""

    def __init__(self, client, metadata: dict):
        self.client, self.bucket = client, metadata["bucket"]
        self.root = f"{metadata['prefix']}/{metadata['export_name']}"
        self.export_name = metadata["export_name"]
        self._etags: dict[str, str] = {}

    def manifest_key(self, period: date) -> str:
        """The manifest of a billing period."""
        return f"{self.root}/metadata/BILLING_PERIOD={period:%Y-%m}/{self.export_name}-Manifest.json"

    def data_prefix(self, period: date) -> str:
        """Where a billing period's data files are delivered."""
        return f"{self.root}/data/BILLING_PERIOD={period:%Y-%m}/"

    def deliveries(self, first: date, last: date) -> list[Delivery]:
        """The newest delivery of every billing period overlapping [first, last] that has a manifest."""
        found = []
        for period in months(first, last):
            manifest = self._manifest(period)
            if manifest is not None:
                found.append(self._delivery(period, manifest))
        return found

    def _manifest(self, period: date) -> dict | None:
        key = self.manifest_key(period)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except aws_errors() as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                return None  # nothing delivered for this period (yet)
            raise storage_error(exc, f"reading the manifest of {period:%Y-%m}") from None
        try:
            manifest = json.loads(body)
        except ValueError:
            raise TransientError(
                "PROVIDER_BAD_RESPONSE", f"The manifest of {period:%Y-%m} is not JSON."
            ) from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("dataFiles"), list):
            raise TerminalError("PROVIDER_BAD_DATA", f"The manifest of {period:%Y-%m} lists no dataFiles.")
        return manifest

    def _delivery(self, period: date, manifest: dict) -> Delivery:
        columns = {c.get("name") for c in manifest.get("columns") or [] if isinstance(c, dict)}
        missing = [name for name in REQUIRED_COLUMNS if columns and name not in columns]
        if missing:
            raise TerminalError(
                "PROVIDER_BAD_DATA",
                f"The export {self.export_name} lacks FOCUS columns {missing}: export the FOCUS 1.0 (or 1.2) "
                f"with AWS columns table, not CUR.",
            )
        present = self._listing(period)
        files = []
        for uri in manifest["dataFiles"]:
            key = self._key_of(uri, period)
            if key not in present:
                # Overwrite mode replaces files before the manifest: the next delivery of this run sees them.
                raise TransientError(
                    "PROVIDER_UNAVAILABLE", f"The manifest of {period:%Y-%m} lists a file not (yet) in S3."
                )
            size, etag = present[key]
            self._etags[key] = etag
            files.append(ExportFile(key, size, *_format_of(key)))
        listed = "\n".join(
            f"{f.name}\t{f.size}\t{self._etags[f.name]}" for f in sorted(files, key=lambda f: f.name)
        )
        digest = hashlib.sha256(listed.encode()).hexdigest()[:16]
        execution = str(manifest.get("executionId") or "no-execution-id")
        return Delivery(period, f"{execution}:{digest}", tuple(files))

    def _listing(self, period: date) -> dict[str, tuple[int, str]]:
        """key → (size, ETag) of the period's data files (one LIST per 1,000 files)."""
        present = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.data_prefix(period)
            )
            for page in pages:
                for item in page.get("Contents", []):
                    present[item["Key"]] = (int(item["Size"]), item["ETag"])
        except aws_errors() as exc:
            raise storage_error(exc, f"listing the data files of {period:%Y-%m}") from None
        return present

    def _key_of(self, uri: str, period: date) -> str:
        """The key of a listed file, which must be in this export's data folder of this period."""
        parts = urlsplit(str(uri))
        key = parts.path.lstrip("/")
        if (
            parts.scheme != "s3"
            or parts.netloc != self.bucket
            or not key.startswith(self.data_prefix(period))
        ):
            raise TerminalError(
                "PROVIDER_BAD_DATA",
                f"The manifest of {period:%Y-%m} lists a file outside the export's data folder: {uri}",
            )
        return key

    def open(self, file: ExportFile):
        """A seekable stream of the file through ranged GETs of the listed version."""
        raw = RangedObject(self.client, self.bucket, file.name, file.size, self._etags.get(file.name))
        return io.BufferedReader(raw, buffer_size=aws.RANGE_BYTES)


def _format_of(key: str) -> tuple[str, str | None]:
    for suffix, kind in _FORMATS.items():
        if key.endswith(suffix):
            return kind
    raise TerminalError("PROVIDER_BAD_DATA", f"Export file {key} is neither Parquet nor gzip CSV.")


class RangedObject(io.RawIOBase):
    """An S3 object as a seekable raw stream: each read is one ranged GET, pinned to the ETag listed with the
    manifest (a file rewritten under the load fails the read instead of mixing two versions)."""

    def __init__(self, client, bucket: str, key: str, size: int, etag: str | None):
        self.client, self.bucket, self.key, self.size, self.etag = client, bucket, key, size, etag
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.size or not len(buffer):
            return 0
        end = min(self.size, self.position + len(buffer)) - 1
        extra = {"IfMatch": self.etag} if self.etag else {}
        try:
            body = self.client.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{end}", **extra
            )["Body"]
            data = body.read()
        except aws_errors() as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code == "PreconditionFailed":
                raise TransientError(
                    "PROVIDER_UNAVAILABLE", f"Export file {self.key} was rewritten during the load."
                ) from None
            raise storage_error(exc, f"reading {self.key}") from None
        if len(data) != end - self.position + 1:
            raise TransientError(
                "PROVIDER_UNREACHABLE", f"S3's answer was cut short while reading {self.key}."
            )
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)
