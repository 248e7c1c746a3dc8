"""AWS: the org's Data Exports export of the FOCUS table (Parquet or gzip CSV in its S3 bucket) → aws_cost_export
and cost_focus, a billing period reloaded whole when its manifest changes. Keyless: the function federates its
Google identity into the org's IAM role (no AWS secret is stored)."""

from __future__ import annotations

from shared.providers.aws import constants as aws
from shared.providers.contract import FocusIdentity, ObjectStorage, Provider


def _processors():
    from shared.providers.aws.steps import PROCESSORS

    return PROCESSORS


def _check_credential(provider, secret: str, metadata: dict, settings, org_slug: str | None = None) -> None:
    from shared.providers.aws.credential import check_metadata

    check_metadata(metadata)


def _load_window(start, end):
    from shared.providers.kit.exports import export_load_window

    return export_load_window(start, end)


PROVIDER = Provider(
    name="aws",
    title="AWS",
    source=ObjectStorage(metadata_keys=aws.METADATA_KEYS),
    focus=FocusIdentity(provider_name=aws.PROVIDER_NAME),  # Marketplace rows name their own publisher
    load_processors=_processors,
    check_credential=_check_credential,
    needs_secret=False,
    metadata_keys=aws.METADATA_KEYS,
    load_window=_load_window,
)
