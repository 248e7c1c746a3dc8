"""Onboarding checks of an Azure credential: the export's location and the app registration the service signs in
as (no secret: workload identity federation)."""

from __future__ import annotations

from shared.providers.azure import constants as az
from shared.providers.contract import CredentialRejected

_RULES = {
    "storage_account": (az.STORAGE_ACCOUNT, "3-24 lowercase letters and digits (the storage account's name)"),
    "container": (az.CONTAINER, "3-63 lowercase letters, digits and single hyphens (a Blob container name)"),
    "export_name": (az.EXPORT_NAME, "the Cost Management export's name (letters, digits, '-' and '_')"),
    "tenant_id": (az.GUID, "the Entra ID tenant's GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"),
    "client_id": (az.GUID, "the app registration's client (application) GUID"),
}


def check_metadata(metadata: dict) -> None:
    """Raise CredentialRejected naming the first metadata value a run could not use, and what it must be."""
    for key, (pattern, wanted) in _RULES.items():
        value = metadata.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise CredentialRejected(f"metadata.{key} must be {wanted}")
    directory = metadata.get("directory")
    segments = directory.split("/") if isinstance(directory, str) else [""]
    if len(directory or "") > 1024 or not all(
        az.DIRECTORY_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments
    ):
        raise CredentialRejected(
            "metadata.directory must be the export's directory in the container (path segments of letters, "
            "digits and ._=@+- joined by '/', no leading or trailing '/')"
        )


def check_credential(provider, secret: str, metadata: dict, settings, org_slug: str | None = None) -> None:
    """The provider's credential check (the contract already refuses a secret: none is stored)."""
    check_metadata(metadata)
