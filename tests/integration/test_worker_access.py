"""The workers' WRITER access on org datasets, read back from the BigQuery stand-in's dataset access list."""

import dataclasses
import json
import subprocess
import sys

import pytest
from google.cloud import bigquery

from shared.tenancy.onboarding import AdminError
from shared.tenancy.worker_access import grant_worker_access_to_org_datasets
from shared.warehouse.datasets import ensure_org_dataset
from shared.warehouse.grants import grant_writers
from tests.kit.orgs import unique_slug

WORKERS = ("dps-stage-openai@p.iam.gserviceaccount.com", "dps-stage-gcp@p.iam.gserviceaccount.com")
DEFAULTS = {("WRITER", "specialGroup", "projectWriters"), ("OWNER", "specialGroup", "projectOwners")}


@pytest.fixture(scope="module")
def granting(settings):
    """The module's settings with worker service accounts, as Terraform sets them on every function."""
    return dataclasses.replace(settings, worker_service_accounts=WORKERS)


def access(warehouse, settings, dataset: str) -> list[tuple[str, str, str]]:
    """The dataset's access list as (role, entity type, entity id), in the stand-in's order."""
    found = warehouse.client.get_dataset(f"{settings.project}.{dataset}")
    return [(entry.role, entry.entity_type, entry.entity_id) for entry in found.access_entries]


def writers(entries) -> list[str]:
    return [entity for role, kind, entity in entries if kind == "userByEmail" and role == "WRITER"]


def test_a_new_org_dataset_grants_each_worker_writer_once_and_keeps_the_other_entries(
    settings, granting, warehouse
):
    slug = unique_slug("g")
    dataset = ensure_org_dataset(granting, warehouse, slug)
    first = access(warehouse, settings, dataset)
    assert writers(first) == list(WORKERS) and DEFAULTS <= set(first)
    etag = warehouse.client.get_dataset(f"{settings.project}.{dataset}").etag
    ensure_org_dataset(granting, warehouse, slug)  # every run calls it
    assert access(warehouse, settings, dataset) == first
    assert warehouse.client.get_dataset(f"{settings.project}.{dataset}").etag == etag  # no update was sent


def test_an_existing_dataset_gets_only_the_grants_it_lacks(settings, granting, warehouse):
    slug = unique_slug("g")
    dataset_id = f"{settings.project}.{settings.org_dataset(slug)}"
    bare = warehouse.client.create_dataset(bigquery.Dataset(dataset_id))
    bare.access_entries = [*bare.access_entries, bigquery.AccessEntry("WRITER", "userByEmail", WORKERS[0])]
    warehouse.client.update_dataset(bare, ["access_entries"])
    ensure_org_dataset(granting, warehouse, slug)
    entries = access(warehouse, settings, settings.org_dataset(slug))
    assert writers(entries) == list(WORKERS) and DEFAULTS <= set(entries)


def test_a_concurrent_change_of_the_access_list_is_kept(settings, warehouse):
    dataset_id = f"{settings.project}.{settings.org_dataset(unique_slug('g'))}"
    warehouse.client.create_dataset(bigquery.Dataset(dataset_id))
    stale = warehouse.client.get_dataset(dataset_id)
    meanwhile = warehouse.client.get_dataset(dataset_id)
    meanwhile.access_entries = [
        *meanwhile.access_entries,
        bigquery.AccessEntry("READER", "userByEmail", "analyst@example.com"),
    ]
    warehouse.client.update_dataset(meanwhile, ["access_entries"])
    # The stale copy's etag is refused (412); the grant is redone on a fresh read, not written over it.
    assert grant_writers(warehouse.client, stale, WORKERS) == list(WORKERS)
    entries = access(warehouse, settings, dataset_id.split(".")[1])
    assert ("READER", "userByEmail", "analyst@example.com") in entries and writers(entries) == list(WORKERS)


def test_the_sweep_refuses_without_worker_accounts(settings, warehouse):
    with pytest.raises(AdminError, match="WORKER_SERVICE_ACCOUNTS"):
        grant_worker_access_to_org_datasets(
            dataclasses.replace(settings, worker_service_accounts=()), warehouse
        )


def test_dps_grant_worker_access_dry_run_then_once_then_nothing(stack, settings, warehouse, new_org):
    # Onboarded without worker accounts (as before the upgrade): the datasets have no worker entries.
    orgs = [new_org(credential=False)["dataset"] for _ in range(2)]
    gone = new_org(credential=False)["dataset"]
    warehouse.client.delete_dataset(f"{settings.project}.{gone}", delete_contents=True)
    env = {**stack.env(), "PATH": "/usr/bin:/bin", "WORKER_SERVICE_ACCOUNTS": ",".join(WORKERS)}

    def dps(*args):
        done = subprocess.run(
            [sys.executable, "-m", "devstack.cli", *args], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout

    planned = json.loads(dps("--json", "grant-worker-access", "--dry-run"))
    assert all(planned["granted"][dataset] == list(WORKERS) for dataset in orgs)
    assert gone in planned["absent"] and not any(writers(access(warehouse, settings, d)) for d in orgs)
    text = dps("grant-worker-access")
    assert all(f"{dataset}: granted WRITER to {', '.join(WORKERS)}" in text for dataset in orgs)
    assert all(writers(access(warehouse, settings, dataset)) == list(WORKERS) for dataset in orgs)
    again = json.loads(dps("--json", "grant-worker-access"))
    assert again["granted"] == {} and set(orgs) <= set(again["unchanged"])
