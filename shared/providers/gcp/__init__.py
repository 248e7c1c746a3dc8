"""Google Cloud: the org's Cloud Billing export (a BigQuery table) → gcp_billing_daily and cost_focus,
incrementally."""

from __future__ import annotations

from shared.providers.contract import FocusIdentity, Provider, WarehouseTable
from shared.providers.gcp import constants as gcp


def _processors():
    from shared.providers.gcp.steps import PROCESSORS

    return PROCESSORS


def _check_credential(provider, secret: str, metadata: dict, settings, org_slug: str | None = None) -> None:
    from shared.providers.gcp.source import (
        access_mode,
        check_export_scope,
        check_grant,
        parse_export_table,
        service_account_info,
    )

    table = parse_export_table(metadata.get(gcp.METADATA_KEY))
    check_export_scope(table, org_slug, settings)
    if access_mode(metadata) == gcp.GRANTED:
        check_grant(table, settings)  # a dry run as the pipeline's account: says which grant is missing
    else:
        service_account_info(secret)


def _secret_needed(metadata: dict) -> bool:
    """A key-mode credential holds the org's service-account key; a granted one holds nothing secret (an unknown
    `access` is refused here, naming the choices)."""
    from shared.providers.gcp.source import access_mode

    return access_mode(metadata) != gcp.GRANTED


def _load_window(start, end):
    from shared.providers.gcp.incremental import load_window

    return load_window(start, end)


PROVIDER = Provider(
    name="gcp",
    title="Google Cloud",
    source=WarehouseTable(metadata_key=gcp.METADATA_KEY),
    focus=FocusIdentity(provider_name=gcp.PROVIDER_NAME),  # Marketplace rows name their own publisher
    load_processors=_processors,
    check_credential=_check_credential,
    secret_needed=_secret_needed,
    metadata_keys=(gcp.METADATA_KEY, gcp.ACCESS_KEY),
    load_window=_load_window,
)
