"""Onboarding of an Azure credential: the export's location and the app registration are checked as a run needs
them, and a secret is refused (nothing secret is stored: workload identity federation)."""

from __future__ import annotations

import pytest

from shared.providers.azure import PROVIDER
from shared.providers.contract import CredentialRejected
from tests.kit.steps import offline_settings

GOOD = {
    "storage_account": "contosocostexports",
    "container": "cost-exports",
    "directory": "exports/focus/billing-profile-1",
    "export_name": "contoso-focus_daily",
    "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "client_id": "0c5a7b2e-1111-4222-8333-444455556666",
}
SETTINGS = offline_settings()


def test_a_well_formed_credential_without_a_secret_is_accepted():
    PROVIDER.validate_credential("", GOOD, SETTINGS)
    PROVIDER.validate_credential("  \n", GOOD, SETTINGS)  # an empty secret file is no secret


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("storage_account", "ab", "3-24 lowercase letters and digits"),
        ("storage_account", "a" * 25, "3-24 lowercase letters and digits"),
        ("storage_account", "Contoso", "3-24 lowercase letters and digits"),
        ("storage_account", "contoso-exports", "3-24 lowercase letters and digits"),
        ("container", "Cost-Exports", "Blob container name"),
        ("container", "-cost", "Blob container name"),
        ("container", "cost-", "Blob container name"),
        ("container", "cost--exports", "Blob container name"),
        ("container", "c" * 64, "Blob container name"),
        ("container", "ab", "Blob container name"),
        ("directory", "/exports", "metadata.directory"),
        ("directory", "exports/", "metadata.directory"),
        ("directory", "exports//focus", "metadata.directory"),
        ("directory", "exports/../other", "metadata.directory"),
        ("directory", "exp orts", "metadata.directory"),
        ("export_name", "-daily", "export's name"),
        ("export_name", "daily export", "export's name"),
        ("tenant_id", "contoso.onmicrosoft.com", "tenant's GUID"),
        ("tenant_id", "72f988bf86f141af91ab2d7cd011db47", "tenant's GUID"),
        ("client_id", "0c5a7b2e-1111-4222-8333-44445555666", "client (application) GUID"),
        ("client_id", 42, "client (application) GUID"),
    ],
)
def test_a_malformed_value_is_refused_naming_the_key_and_the_rule(key, value, says):
    with pytest.raises(CredentialRejected) as refused:
        PROVIDER.validate_credential("", {**GOOD, key: value}, SETTINGS)
    assert f"metadata.{key}" in refused.value.message and says in refused.value.message


@pytest.mark.parametrize("missing", sorted(GOOD))
def test_every_key_is_required(missing):
    with pytest.raises(CredentialRejected, match=f"metadata.{missing}"):
        PROVIDER.validate_credential("", {k: v for k, v in GOOD.items() if k != missing}, SETTINGS)


def test_an_unknown_key_is_refused():
    with pytest.raises(CredentialRejected, match="account_key"):
        PROVIDER.validate_credential("", {**GOOD, "account_key": "x"}, SETTINGS)


def test_a_secret_is_refused_without_echoing_it():
    secret = "DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=c2VjcmV0LWtleQ=="
    with pytest.raises(CredentialRejected) as refused:
        PROVIDER.validate_credential(secret, GOOD, SETTINGS)
    assert "takes no secret" in refused.value.message and "--secret-file" in refused.value.message
    assert "c2VjcmV0" not in refused.value.message


def test_each_orgs_client_assertion_is_asked_for_its_own_audience(monkeypatch):
    """Every org's runs share the function's Google identity: the assertion names the org, so a customer's
    federated credential (audience api://AzureADTokenExchange/dps-org/<org>) accepts its own org's runs only."""
    import google.oauth2.id_token

    from shared.providers.azure.blob import _google_assertion

    asked = []
    monkeypatch.setattr(
        google.oauth2.id_token, "fetch_id_token", lambda request, audience: asked.append(audience)
    )
    _google_assertion("acme")()
    _google_assertion("globex")()
    assert asked == ["api://AzureADTokenExchange/dps-org/acme", "api://AzureADTokenExchange/dps-org/globex"]
