"""Credentials are bound to their org and provider (KMS additional authenticated data): a ciphertext copied to
another org's or provider's row does not decrypt, and a credential stored before the binding is re-encrypted bound
on its first read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.platform.errors import TerminalError
from shared.platform.settings import central_table
from shared.tenancy.credentials import BINDING, encrypt_secret, load_credential


def _row(warehouse, settings, org: str, provider: str) -> dict:
    rows = warehouse.query(
        f"SELECT credential_id, encrypted_secret, secret_binding FROM "
        f"`{central_table(settings, 'org_integration_credentials')}` WHERE org_slug = @org AND provider = @p",
        {"org": org, "p": provider},
    )
    assert len(rows) == 1
    return rows[0]


def _insert(warehouse, settings, org: str, provider: str, ciphertext: bytes, binding: str | None) -> None:
    """A credential row written around onboarding (an older version, a hand-made copy)."""
    from shared.warehouse.params import Typed

    warehouse.execute(
        f"""
        DELETE FROM `{central_table(settings, "org_integration_credentials")}` WHERE org_slug = @org AND provider = @p;
        INSERT INTO `{central_table(settings, "org_integration_credentials")}` (credential_id, org_slug, provider,
            encrypted_secret, kms_key_name, secret_binding, metadata, is_active, created_at, updated_at)
        VALUES (@id, @org, @p, @secret, @key, @binding, JSON '{{}}', TRUE, @now, @now)
        """,
        {
            "id": str(uuid.uuid4()),
            "org": org,
            "p": provider,
            "secret": ciphertext,
            "key": settings.kms_key_name,
            "binding": Typed(binding, "STRING"),
            "now": datetime.now(UTC),
        },
    )


def test_a_ciphertext_copied_to_another_org_or_provider_does_not_decrypt(settings, warehouse, kms, new_org):
    victim, thief = new_org(secret="sk-admin-victim-0123456789"), new_org()
    stolen = _row(warehouse, settings, victim["org_slug"], "openai")
    assert stolen["secret_binding"] == BINDING
    assert (
        load_credential(warehouse, settings, kms, victim["org_slug"], "openai").secret
        == "sk-admin-victim-0123456789"
    )
    for org, provider in ((thief["org_slug"], "openai"), (victim["org_slug"], "anthropic")):
        _insert(warehouse, settings, org, provider, stolen["encrypted_secret"], BINDING)
        with pytest.raises(TerminalError) as refused:
            load_credential(warehouse, settings, kms, org, provider)
        assert refused.value.code == "CREDENTIAL_UNREADABLE"
        # Claiming the copy is unbound does not help either: it was encrypted bound.
        _insert(warehouse, settings, org, provider, stolen["encrypted_secret"], None)
        with pytest.raises(TerminalError):
            load_credential(warehouse, settings, kms, org, provider)


def test_a_credential_stored_before_the_binding_is_re_encrypted_bound_on_read(
    settings, warehouse, kms, new_org
):
    org = new_org(credential=False)["org_slug"]
    legacy = encrypt_secret(kms, settings.kms_key_name, "sk-admin-legacy-0123456789")  # no associated data
    _insert(warehouse, settings, org, "openai", legacy, None)
    assert load_credential(warehouse, settings, kms, org, "openai").secret == "sk-admin-legacy-0123456789"
    row = _row(warehouse, settings, org, "openai")
    assert row["secret_binding"] == BINDING and row["encrypted_secret"] != legacy
    # Bound now: it still reads, and the legacy ciphertext no longer stands for anything stored.
    assert load_credential(warehouse, settings, kms, org, "openai").secret == "sk-admin-legacy-0123456789"
