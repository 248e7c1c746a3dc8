"""Dataset-level WRITER access for the worker service accounts on org datasets, added without losing others."""

from __future__ import annotations

from shared.platform.errors import TransientError

WRITER = "WRITER"
# OWNER includes WRITER: the account that created a dataset is its OWNER and needs no second entry.
_SUFFICIENT = {"WRITER", "OWNER"}
# A dataset's access list is one document: each attempt re-reads it, so a lost race costs one round trip.
GRANT_ATTEMPTS = 4


def missing_writers(dataset, accounts: tuple[str, ...]) -> list[str]:
    """The accounts (in the given order) that hold neither WRITER nor OWNER on `dataset` by their email."""
    granted = {
        str(entry.entity_id).lower()
        for entry in dataset.access_entries
        if entry.entity_type == "userByEmail" and entry.role in _SUFFICIENT
    }
    return [account for account in dict.fromkeys(accounts) if account.lower() not in granted]


def grant_writers(client, dataset, accounts: tuple[str, ...], *, dry_run: bool = False) -> list[str]:
    """Add a WRITER entry for each account `dataset` lacks, keeping every other entry; returns those added.

    `dataset` is a google-cloud-bigquery Dataset as last read (its etag is sent as If-Match, so an update made
    meanwhile by anyone else is never overwritten: on 412 the dataset is read again and the grant redone).
    """
    from google.api_core import exceptions
    from google.cloud import bigquery

    if dataset.etag is None:  # a Dataset built locally, not read: without an etag the update is unconditional
        dataset = client.get_dataset(dataset.reference)
    for _ in range(GRANT_ATTEMPTS):
        missing = missing_writers(dataset, accounts)
        if not missing or dry_run:
            return missing
        dataset.access_entries = [
            *dataset.access_entries,
            *(bigquery.AccessEntry(WRITER, "userByEmail", account) for account in missing),
        ]
        try:
            client.update_dataset(dataset, ["access_entries"])
            return missing
        except exceptions.PreconditionFailed:
            dataset = client.get_dataset(dataset.reference)
    raise TransientError(
        "WAREHOUSE_UNAVAILABLE",
        f"dataset {dataset.dataset_id}: its access list kept changing during {GRANT_ATTEMPTS} attempts to grant "
        "the workers WRITER; try again",
    )
