"""Datasets and their tables from configs/schemas: the central `organizations` dataset and each org's own."""

from __future__ import annotations

from shared.platform.settings import Settings, SettingsError
from shared.warehouse.adapter import SCHEMA_LABEL, Warehouse
from shared.warehouse.grants import grant_writers
from shared.warehouse.schemas import load_table_specs


def bootstrap_central(settings: Settings, warehouse: Warehouse) -> list[str]:
    """Create the central dataset and its tables from configs/schemas/organizations (idempotent); their names."""
    warehouse.ensure_dataset(settings.central_dataset, settings.bigquery_location)
    specs = load_table_specs(settings.config_dir, "organizations")
    for spec in specs.values():
        warehouse.ensure_table(settings.central_dataset, spec)
    return sorted(specs)


def ensure_org_dataset(
    settings: Settings, warehouse: Warehouse, slug: str, provider: str | None = None
) -> str:
    """Create the org's dataset, grant the workers WRITER on it, create its tables and add the columns their specs
    gained since (idempotent); returns the dataset id. The tables are the shared ones and, given `provider` (a run
    of it), that provider's own (a spec's `provider:`)."""
    dataset = settings.org_dataset(slug)
    grant_worker_access(settings, warehouse, warehouse.ensure_dataset(dataset, settings.bigquery_location))
    # One listing instead of a metadata read per table: every run calls this, and most tables exist and are
    # current (labelled with their spec's digest). A deploy that adds columns is applied by the org's next run.
    listing = warehouse.client.list_tables(f"{settings.project}.{dataset}")
    labels = {table.table_id: table.labels or {} for table in listing}
    for spec in load_table_specs(settings.config_dir, "org").values():
        if spec.made_for(provider) and labels.get(spec.name, {}).get(SCHEMA_LABEL) != spec.schema_digest:
            warehouse.ensure_table(dataset, spec)
    return dataset


def grant_worker_access(settings: Settings, warehouse: Warehouse, dataset) -> list[str]:
    """Give every WORKER_SERVICE_ACCOUNTS account WRITER on an org dataset (as read by `ensure_dataset`) unless it
    has it; returns the accounts granted now."""
    from google.api_core import exceptions

    from shared.platform.logs import log

    if not settings.worker_service_accounts:
        if settings.is_local:  # the stand-ins check no IAM: nothing to grant
            return []
        # A dataset made now without the grants would refuse every worker's writes until someone noticed.
        raise SettingsError(
            "WORKER_SERVICE_ACCOUNTS is not set: org datasets need the provider functions' service accounts "
            "as WRITER (Terraform output worker_service_accounts)"
        )
    try:
        return grant_writers(warehouse.client, dataset, settings.worker_service_accounts)
    except exceptions.Forbidden:
        # A worker owns only the datasets it created; one made before the grants existed is fixed by
        # `dps grant-worker-access`, and the run's own writes then say what is refused.
        log(
            "WARNING",
            f"cannot grant the workers WRITER on {dataset.dataset_id}: run `dps grant-worker-access`",
            dataset=dataset.dataset_id,
        )
        return []
