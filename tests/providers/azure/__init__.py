"""Microsoft Azure in the standard suite: a recorded Cost Management FOCUS export (FocusCost 1.0, gzip CSV,
overwrite export: usage, a reservation and a savings plan amortised with unused hours, an Azure Prepayment credit, a
refund, tax, USD beside EUR) uploaded into Azurite where the credential names it, and the rows the pipeline writes
for 2025-11-02..03 (its window is the whole billing month, and October while it may be restated)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from devstack.standins.azurite import AZURITE_STANDIN
from shared.providers.azure import PROVIDER
from tests.providers.case import ProviderCase

FOLDER = Path(__file__).parent
BLOBS = FOLDER / "pages" / "blobs"  # the container's blobs, by path
METADATA = {
    "storage_account": "contosocostexports",
    "container": "cost-exports",
    "directory": "exports/focus",
    "export_name": "contoso-focus-daily",
    "tenant_id": "72f988bf-0000-4000-8000-00000000aaaa",
    "client_id": "0c5a7b2e-0000-4000-8000-00000000bbbb",
}


def seed_export(warehouse, metadata: dict, settings) -> None:
    """Upload the recorded blobs into the container the credential names (same bytes: the run is unchanged)."""
    from devstack.providers.azure.layout import local_container

    container = local_container(settings.storage_endpoint("azure"), metadata["container"])
    for path in sorted(p for p in BLOBS.rglob("*") if p.is_file()):
        container.upload_blob(path.relative_to(BLOBS).as_posix(), path.read_bytes(), overwrite=True)


def record(endpoint: str) -> None:
    """Write the recorded export anew from the generator (a reviewed change only): into Azurite at `endpoint`,
    then downloaded into pages/blobs/."""
    import shutil

    from devstack.providers.azure.export import rows_table, sample_rows
    from devstack.providers.azure.layout import ExportLocation, local_container, write_run

    container = local_container(endpoint, METADATA["container"])
    table = rows_table(sample_rows(date(2025, 11, 1)))
    write_run(container, ExportLocation.of(METADATA), date(2025, 11, 1), [table.to_batches()],
              run_id="6c1f0e53-0000-4000-8000-0000000000a1", submitted="2025-11-04T06:12:31.5520000Z",
              overwrite=True)  # fmt: skip
    shutil.rmtree(BLOBS, ignore_errors=True)
    for blob in container.list_blobs(name_starts_with=METADATA["directory"]):
        target = BLOBS / blob.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(container.download_blob(blob.name).readall())


CASE = ProviderCase(
    provider=PROVIDER,
    folder=FOLDER,
    pipeline_id="azure/cost/billing",
    start=date(2025, 11, 2),
    end=date(2025, 11, 3),
    secret="",
    metadata=METADATA,
    seed_source=seed_export,
    standins=(AZURITE_STANDIN,),
    invalid_credentials=(
        ("", {**METADATA, "storage_account": "Contoso_Exports"}, "metadata.storage_account must be"),
        ("", {**METADATA, "container": "cost--exports"}, "metadata.container must be"),
        ("", {**METADATA, "tenant_id": "contoso.onmicrosoft.com"}, "metadata.tenant_id must be"),
        ("", {**METADATA, "directory": "../other-org"}, "metadata.directory must be"),
        ("", {k: v for k, v in METADATA.items() if k != "client_id"}, "metadata.client_id must be"),
        ("DefaultEndpointsProtocol=https;AccountKey=abc", METADATA, "takes no secret"),
    ),
    secret_markers=("AccountKey=abc",),
)
