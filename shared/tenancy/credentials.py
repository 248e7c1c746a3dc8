"""An org's provider credentials: the secret encrypted with Cloud KMS and bound to its org and provider (a
ciphertext copied to another org's or provider's row does not decrypt), stored, and decrypted for a run."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from shared.platform.errors import TerminalError, TransientError
from shared.platform.logs import log
from shared.platform.settings import Settings, central_table
from shared.providers.contract import Credential
from shared.warehouse.adapter import Warehouse

TABLE = "org_integration_credentials"
# secret_binding of a ciphertext whose KMS additional authenticated data is its org and provider. Rows written
# before it (NULL) decrypt without, and are re-encrypted bound on their next read.
BINDING = "org_provider_v1"


def associated_data(org_slug: str, provider: str) -> bytes:
    """What a credential's ciphertext is bound to (slug and provider are strict identifiers: no ';' or '=')."""
    return f"dps-credential;org={org_slug};provider={provider}".encode()


def encrypt_secret(kms_client, key_name: str, plaintext: str, aad: bytes = b"") -> bytes:
    """Encrypt a credential with Cloud KMS under `aad` (decryption must present the same)."""
    request = {"name": key_name, "plaintext": plaintext.encode()}
    if aad:
        request["additional_authenticated_data"] = aad
    return bytes(kms_client.encrypt(request=request).ciphertext)


def decrypt_secret(kms_client, key_name: str, ciphertext: bytes, aad: bytes = b"") -> str:
    """Decrypt a credential with Cloud KMS; KMS outages are transient, anything else CREDENTIAL_UNREADABLE."""
    from google.api_core import exceptions

    request = {"name": key_name, "ciphertext": ciphertext}
    if aad:
        request["additional_authenticated_data"] = aad
    try:
        response = kms_client.decrypt(request=request)
    except (
        exceptions.ServiceUnavailable,
        exceptions.DeadlineExceeded,
        exceptions.InternalServerError,
    ) as exc:
        raise TransientError("KMS_UNAVAILABLE", "Cloud KMS is unavailable") from exc
    except exceptions.GoogleAPICallError as exc:
        raise TerminalError(
            "CREDENTIAL_UNREADABLE",
            "The stored credential cannot be decrypted; store it again with the current key.",
        ) from exc
    return bytes(response.plaintext).decode()


def store_credential(
    warehouse: Warehouse,
    settings: Settings,
    kms_client,
    org_slug: str,
    provider: str,
    secret: str,
    metadata: dict,
) -> str:
    """Encrypt (bound to org and provider) and store the org's credential for `provider`, replacing any other in
    one transaction (never zero or two active); returns its credential_id."""
    ciphertext = encrypt_secret(
        kms_client, settings.kms_key_name, secret, associated_data(org_slug, provider)
    )
    credential_id, now = str(uuid.uuid4()), datetime.now(UTC)
    table = central_table(settings, TABLE)
    warehouse.execute(
        f"""
        BEGIN TRANSACTION;
        DELETE FROM `{table}` WHERE org_slug = @slug AND provider = @provider;
        INSERT INTO `{table}` (credential_id, org_slug, provider, encrypted_secret, kms_key_name, secret_binding,
                               metadata, is_active, created_at, updated_at)
        VALUES (@id, @slug, @provider, @secret, @key_name, @binding, PARSE_JSON(@metadata), TRUE, @now, @now);
        COMMIT TRANSACTION;
        """,
        {
            "id": credential_id,
            "slug": org_slug,
            "provider": provider,
            "secret": ciphertext,
            "key_name": settings.kms_key_name,
            "binding": BINDING,
            "metadata": json.dumps(metadata),
            "now": now,
        },
    )
    return credential_id


def load_credential(
    warehouse: Warehouse, settings: Settings, kms_client, org_slug: str, provider: str
) -> Credential:
    """The org's decrypted credential; TerminalError when none is active or it does not decrypt for this org."""
    rows = warehouse.query(
        f"""
        SELECT credential_id, encrypted_secret, kms_key_name, secret_binding, TO_JSON_STRING(metadata) AS metadata
        FROM `{central_table(settings, TABLE)}`
        WHERE org_slug = @org AND provider = @provider AND is_active
        ORDER BY updated_at DESC LIMIT 1
        """,
        {"org": org_slug, "provider": provider},
    )
    if not rows:
        raise TerminalError(
            "INTEGRATION_NOT_CONFIGURED", f"No active {provider} credential; store one and run again."
        )
    row, aad = rows[0], associated_data(org_slug, provider)
    bound = row["secret_binding"] == BINDING
    secret = decrypt_secret(kms_client, row["kms_key_name"], row["encrypted_secret"], aad if bound else b"")
    if not bound:
        _bind(warehouse, settings, kms_client, row, secret, aad)
    metadata = json.loads(row["metadata"]) if row["metadata"] else {}
    return Credential(provider=provider, secret=secret, metadata=metadata or {})


def _bind(warehouse: Warehouse, settings: Settings, kms_client, row: dict, secret: str, aad: bytes) -> None:
    """Re-encrypt a legacy (unbound) credential bound to its org and provider, in place (only if unchanged
    since it was read). A failure is logged, not raised: the run has its secret, the next read tries again."""
    try:
        ciphertext = encrypt_secret(kms_client, row["kms_key_name"], secret, aad)
        warehouse.execute(
            f"UPDATE `{central_table(settings, TABLE)}` SET encrypted_secret = @new, secret_binding = @binding "
            "WHERE credential_id = @id AND encrypted_secret = @old AND secret_binding IS NULL",
            {
                "new": ciphertext,
                "binding": BINDING,
                "id": row["credential_id"],
                "old": row["encrypted_secret"],
            },
        )
    except Exception as exc:  # noqa: BLE001 - binding is an upgrade, never a reason to fail the run
        log("WARNING", f"could not re-encrypt a legacy credential bound to its org: {type(exc).__name__}")
