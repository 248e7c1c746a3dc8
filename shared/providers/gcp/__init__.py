"""Google Cloud: the org's Cloud Billing export (a BigQuery table) → gcp_billing_daily and cost_focus,
incrementally."""

from __future__ import annotations

from shared.providers.contract import FocusIdentity, Provider, WarehouseTable
from shared.providers.gcp import constants as gcp


def _processors():
    from shared.providers.gcp.steps import PROCESSORS

    return PROCESSORS


def _check_credential(provider, secret: str, metadata: dict, settings, org_slug: str | None = None) -> None:
    from shared.providers.gcp.source import check_export_scope, parse_export_table, service_account_info

    check_export_scope(parse_export_table(metadata.get(gcp.METADATA_KEY)), org_slug, settings)
    service_account_info(secret)


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
    metadata_keys=(gcp.METADATA_KEY,),
    load_window=_load_window,
)
