"""Datasets and their tables from configs/schemas: the central `organizations` dataset and each org's own."""

from __future__ import annotations

from shared.platform.settings import Settings
from shared.warehouse.adapter import Warehouse
from shared.warehouse.schemas import load_table_specs


def bootstrap_central(settings: Settings, warehouse: Warehouse) -> list[str]:
    """Create the central dataset and its tables from configs/schemas/organizations (idempotent); their names."""
    warehouse.ensure_dataset(settings.central_dataset, settings.bigquery_location)
    specs = load_table_specs(settings.config_dir, "organizations")
    for spec in specs.values():
        warehouse.ensure_table(settings.central_dataset, spec)
    return sorted(specs)


def ensure_org_dataset(settings: Settings, warehouse: Warehouse, slug: str) -> str:
    """Create the org's dataset and its per-provider tables (idempotent); returns the dataset id."""
    dataset = settings.org_dataset(slug)
    warehouse.ensure_dataset(dataset, settings.bigquery_location)
    # One listing instead of a create attempt per table: every run calls this, and most tables exist.
    existing = {table.table_id for table in warehouse.client.list_tables(f"{settings.project}.{dataset}")}
    for spec in load_table_specs(settings.config_dir, "org").values():
        if spec.name not in existing:
            warehouse.ensure_table(dataset, spec)
    return dataset
