"""An org's provider credentials: whether one is active, and decrypting it for a run."""

from __future__ import annotations

import json

from shared.platform.errors import TerminalError
from shared.platform.settings import Settings, central_table
from shared.providers.contract import Credential
from shared.tenancy import keys
from shared.warehouse.adapter import Warehouse


def _active_rows(warehouse: Warehouse, settings: Settings, org_slug: str, provider: str) -> list[dict]:
    return warehouse.query(
        f"""
        SELECT encrypted_secret, kms_key_name, TO_JSON_STRING(metadata) AS metadata
        FROM `{central_table(settings, "org_integration_credentials")}`
        WHERE org_slug = @org AND provider = @provider AND is_active
        ORDER BY updated_at DESC LIMIT 1
        """,
        {"org": org_slug, "provider": provider},
    )


def has_active_credential(warehouse: Warehouse, settings: Settings, org_slug: str, provider: str) -> bool:
    """True when the org has an active credential for the provider."""
    return bool(_active_rows(warehouse, settings, org_slug, provider))


def load_credential(
    warehouse: Warehouse, settings: Settings, kms_client, org_slug: str, provider: str
) -> Credential:
    """The org's decrypted credential; TerminalError when none is active."""
    rows = _active_rows(warehouse, settings, org_slug, provider)
    if not rows:
        raise TerminalError(
            "INTEGRATION_NOT_CONFIGURED", f"No active {provider} credential; store one and run again."
        )
    row = rows[0]
    secret = keys.decrypt_secret(kms_client, row["kms_key_name"], row["encrypted_secret"])
    metadata = json.loads(row["metadata"]) if row["metadata"] else {}
    return Credential(provider=provider, secret=secret, metadata=metadata or {})
