"""Onboarding checks of an AWS credential's metadata: the shapes AWS accepts (no secret is ever stored)."""

from __future__ import annotations

import ipaddress
import re

from shared.providers.contract import CredentialRejected

_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/[\w+=,.@/-]{1,512}")
_REGION = re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Data Exports export names: letters, digits and !-_.*'() (API reference, Export.Name pattern), ≤ 128.
_EXPORT_NAME = re.compile(r"[0-9A-Za-z!\-_.*'()]{1,128}")


def check_metadata(metadata: dict) -> None:
    """Raise CredentialRejected naming the first key whose value AWS would refuse, and how to fix it."""
    values = {key: metadata.get(key) for key in ("bucket", "prefix", "export_name", "region", "role_arn")}
    for key, value in values.items():
        if not isinstance(value, str) or not value:
            raise CredentialRejected(
                f"metadata.{key} is required (a string): bucket, prefix, export_name, "
                f"region and role_arn name the Data Exports export and the role to read it"
            )
    check_bucket(values["bucket"])
    check_prefix(values["prefix"])
    if not _EXPORT_NAME.fullmatch(values["export_name"]):
        raise CredentialRejected(
            "metadata.export_name must be the export's name: 1-128 letters, digits or !-_.*'()"
        )
    if not _REGION.fullmatch(values["region"]):
        raise CredentialRejected(
            f"metadata.region {values['region']!r} is not an AWS region such as us-east-1"
        )
    if not _ARN.fullmatch(values["role_arn"]):
        raise CredentialRejected(
            "metadata.role_arn must be an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>"
        )


def check_bucket(bucket: str) -> None:
    """S3 general purpose bucket naming rules (S3 User Guide, "General purpose bucket naming rules")."""
    problem = None
    if not _BUCKET.fullmatch(bucket):
        problem = (
            "3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit"
        )
    elif ".." in bucket:
        problem = "no two adjacent dots"
    elif _is_ip(bucket):
        problem = "not formatted as an IP address"
    elif bucket.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or bucket.endswith(
        ("-s3alias", "--ol-s3", ".mrap", "--x-s3")
    ):
        problem = "none of the prefixes or suffixes S3 reserves"
    if problem:
        raise CredentialRejected(f"metadata.bucket {bucket!r} is not an S3 bucket name: {problem}")


def check_prefix(prefix: str) -> None:
    """The export's S3 prefix as Data Exports takes it: a path without leading or trailing slashes."""
    if prefix.startswith("/") or prefix.endswith("/") or "//" in prefix or len(prefix) > 512:
        raise CredentialRejected(
            "metadata.prefix must be the export's S3 prefix without leading/trailing '/'"
        )
    if any(part in (".", "..") for part in prefix.split("/")) or any(ord(c) < 32 for c in prefix):
        raise CredentialRejected("metadata.prefix must not contain '.', '..' segments or control characters")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
