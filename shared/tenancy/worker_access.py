"""Once after upgrading: grant the workers WRITER on every existing org dataset (`dps grant-worker-access`)."""

from __future__ import annotations

from shared.platform.settings import Settings, central_table
from shared.tenancy.onboarding import AdminError
from shared.warehouse.adapter import Warehouse
from shared.warehouse.grants import grant_writers


def grant_worker_access_to_org_datasets(
    settings: Settings, warehouse: Warehouse, dry_run: bool = False
) -> dict:
    """For each onboarded org's dataset, add the WORKER_SERVICE_ACCOUNTS WRITER entries it lacks (nothing with
    `dry_run`); returns {"granted": {dataset: [accounts]}, "unchanged", "absent", "refused": [datasets]}."""
    from google.api_core import exceptions

    accounts = settings.worker_service_accounts
    if not accounts:
        raise AdminError("WORKER_SERVICE_ACCOUNTS is not set: name the provider functions' service accounts")
    # The org profiles name every org; a dataset is made by onboarding or by the org's first run.
    rows = warehouse.query(
        f"SELECT DISTINCT org_slug FROM `{central_table(settings, 'org_profiles')}` ORDER BY org_slug"
    )
    report: dict = {"dry_run": dry_run, "accounts": list(accounts), "granted": {}, "unchanged": []}
    report |= {"absent": [], "refused": []}
    for dataset_id in (settings.org_dataset(row["org_slug"]) for row in rows):
        try:
            dataset = warehouse.client.get_dataset(f"{settings.project}.{dataset_id}")
            added = grant_writers(warehouse.client, dataset, accounts, dry_run=dry_run)
        except exceptions.NotFound:
            report["absent"].append(dataset_id)  # its first run creates it with the grants
            continue
        except exceptions.Forbidden:
            report["refused"].append(dataset_id)  # the caller may not change this dataset's access list
            continue
        if added:
            report["granted"][dataset_id] = added
        else:
            report["unchanged"].append(dataset_id)
    return report
