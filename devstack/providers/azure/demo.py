"""The demo org's Azure export: month-to-date runs of a synthetic Cost Management FOCUS export in Azurite (every
month the demo's fortnight touches), and the keyless credential naming it."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from devstack.providers.azure.export import bulk_batches, rows_table, sample_rows
from devstack.providers.azure.layout import ExportLocation, local_container, write_run

DEMO_METADATA = {
    "storage_account": "acmecostexports",
    "container": "cost-exports",
    "directory": "exports/focus",
    "export_name": "acme-focus-daily",
    "tenant_id": "72f988bf-0000-4000-8000-00000000d001",
    "client_id": "0c5a7b2e-0000-4000-8000-00000000d002",
}
ROWS_PER_DAY = 100


def write_month(
    container, location: ExportLocation, month: date, last: date, rows_per_day: int, **run
) -> dict:
    """One month-to-date run of `month` up to `last`: the sample charges (commitments, credit, refund, tax, EUR)
    and `rows_per_day` drawn usage rows per day, as one gzip CSV."""
    days = (last - month).days + 1
    special = rows_table(sample_rows(month)).to_batches()
    usage = bulk_batches(month, days, rows_per_day, seed=int(f"{month:%Y%m}"))
    return write_run(container, location, month, [itertools.chain(special, usage)], **run)


def seed_demo_export(endpoint: str, last: date, days: int = 12) -> None:
    """The export's runs for every month of the `days` days ending `last` (run ids fixed by month and day, so a
    demo run the same day rewrites the same run)."""
    location = ExportLocation.of(DEMO_METADATA)
    container = local_container(endpoint, location.container)
    month = (last - timedelta(days=days - 1)).replace(day=1)
    while month <= last:
        month_end = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        upto = min(month_end, last)
        run_id = f"0de70000-0000-4000-8000-{upto:%Y%m%d}0000"
        submitted = f"{upto + timedelta(days=1):%Y-%m-%d}T06:00:00.0000000Z"
        write_month(container, location, month, upto, ROWS_PER_DAY, run_id=run_id, submitted=submitted,
                    overwrite=True)  # fmt: skip
        month = month_end + timedelta(days=1)


def demo_credential(stack, settings):
    """Seed the demo export (up to yesterday) and return its credential: metadata only, no secret."""
    from devstack.providers.local import DemoCredential

    endpoint = settings.storage_endpoint("azure") or stack.url("azure_blob")
    seed_demo_export(endpoint, datetime.now(UTC).date() - timedelta(days=1))
    return DemoCredential("", dict(DEMO_METADATA))
