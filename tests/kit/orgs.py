"""Test orgs: each one onboarded under a unique slug, so that tests sharing a stack never see each other's data."""

from __future__ import annotations

import secrets
import uuid

from shared.platform.settings import Settings

# A key the provider sandbox refuses (401): a run it starts fails at its first provider call.
REFUSED_PROVIDER_KEY = "sk-no"
DEFAULT_SECRET = "sk-admin-test-secret"


def unique_slug(prefix: str = "t") -> str:
    """A fresh org slug, `<prefix>_` and ten hex digits."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def onboard(
    settings: Settings,
    plan: str = "professional",
    status: str = "ACTIVE",
    credential: bool = True,
    metadata: dict | None = None,
    secret: str = DEFAULT_SECRET,
    prefix: str = "t",
) -> dict:
    """Onboard a fresh org (unique slug), with an OpenAI credential unless `credential` is False; returns
    create_org's result (org_slug, api_key, api_key_id, dataset ...)."""
    from shared.tenancy import onboarding

    slug = unique_slug(prefix)
    created = onboarding.create_org(settings, slug, plan, status)
    if credential:
        onboarding.set_credential(settings, slug, "openai", secret, metadata or {})
    return created


def fault_org(settings: Settings, provider_url: str, plan: str = "professional") -> dict:
    """A fresh org whose OpenAI credential (a unique, key-shaped secret, returned as "secret") points at
    `provider_url` (the fault provider)."""
    secret = f"sk-admin-fault-{secrets.token_hex(16)}"
    created = onboard(settings, plan, secret=secret, metadata={"base_url": provider_url}, prefix="f")
    return {**created, "secret": secret}


def attach_gcp_export(
    settings: Settings, warehouse, org_slug: str, table_name: str, export, key_label: str
) -> str:
    """Write `export` (an Arrow table of billing export rows) as the org's own stand-in export, in dataset
    src_<org> of the customers' project (never the service's), and store a GCP credential naming it; returns the
    export's table id."""
    from google.cloud import bigquery

    from devstack.providers.gcp.export import DEMO_PROJECT, demo_service_account_key, write_export
    from shared.tenancy import onboarding

    dataset = f"{DEMO_PROJECT}.src_{org_slug}"
    warehouse.client.create_dataset(bigquery.Dataset(dataset), exists_ok=True)
    table_id = f"{dataset}.{table_name}"
    write_export(warehouse.client, table_id, export)
    key = demo_service_account_key(settings.project, key_label)
    onboarding.set_credential(settings, org_slug, "gcp", key, {"billing_export_table": table_id})
    return table_id
