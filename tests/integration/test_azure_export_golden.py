"""Golden cases of the Azure export load, on the real stand-ins (Azurite and the BigQuery stand-in): an overwrite
export whose month is rewritten by a new run (the month reloaded whole, nothing double counted, a re-run without
change loads nothing), a new-run export (the newest complete run folder wins; a newer run still being written is
not read), and two billing currencies kept apart. Amounts: devstack/providers/azure/export.py sample_rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from devstack.providers.azure.export import rows_table, sample_rows
from devstack.providers.azure.layout import ExportLocation, local_container, month_folder, write_run
from shared.providers.azure.steps import load_cost_export
from tests.kit.steps import step_context
from tests.kit.warehouse_standin import PROJECT

NOVEMBER = date(2025, 11, 1)
METADATA = {
    "storage_account": "contosocostexports",
    "container": "golden-exports",
    "directory": "exports/focus",
    "export_name": "contoso-focus-daily",
    "tenant_id": "72f988bf-0000-4000-8000-00000000aaaa",
    "client_id": "0c5a7b2e-0000-4000-8000-00000000bbbb",
}


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    from devstack.processes import free_port
    from devstack.standins.azurite import launch_azurite

    process = launch_azurite(tmp_path_factory.mktemp("golden-azurite"), free_port())
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def env(azurite, bigquery_standin):
    from shared.platform.clients import make_bigquery_client, make_bigquery_write_client
    from shared.platform.settings import settings_from_env
    from shared.warehouse.adapter import Warehouse

    settings = settings_from_env(
        {
            "GCP_PROJECT_ID": PROJECT,
            "ENVIRONMENT": "local",
            "KMS_KEY_NAME": f"projects/{PROJECT}/locations/global/keyRings/dps/cryptoKeys/credentials",
            "BIGQUERY_API_ENDPOINT": bigquery_standin.url,
            "BIGQUERY_STORAGE_API_ENDPOINT": bigquery_standin.grpc_address,
            "AZURE_STORAGE_ENDPOINT": azurite.url,
        }
    )
    client = make_bigquery_client(settings)
    return settings, Warehouse(client, PROJECT, write_client=make_bigquery_write_client(settings))


def _load(env, slug: str, directory: str, start=date(2025, 11, 2), end=date(2025, 11, 3)) -> int:
    from shared.warehouse.datasets import ensure_org_dataset

    settings, warehouse = env
    ensure_org_dataset(settings, warehouse, slug, "azure")
    metadata = {**METADATA, "directory": directory}
    ctx = step_context("azure", start, end, "", metadata=metadata, settings=settings, org_slug=slug,
                       destination_table="azure_cost_export")  # fmt: skip
    return load_cost_export(ctx, warehouse)


def _write(env, directory: str, run: str, submitted: str, *, scale=Decimal(1), overwrite=True, **options):
    settings, _ = env
    container = local_container(settings.storage_endpoint("azure"), METADATA["container"])
    table = rows_table(sample_rows(NOVEMBER, scale), options.pop("version", "1.0"))
    location = ExportLocation.of({**METADATA, "directory": directory})
    return write_run(container, location, NOVEMBER, [table.to_batches()], run_id=run, submitted=submitted,
                     overwrite=overwrite, **options)  # fmt: skip


def _totals(env, slug: str) -> dict:
    """Per BillingCurrency: rows, sum BilledCost, sum EffectiveCost of the org's Microsoft cost_focus rows, and
    the runs its raw rows came from."""
    settings, warehouse = env
    dataset = settings.org_dataset(slug)
    rows = warehouse.query(
        f"SELECT BillingCurrency AS c, COUNT(*) AS n, SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective "
        f"FROM `{warehouse.table_id(dataset, 'cost_focus')}` WHERE ProviderName = 'Microsoft' GROUP BY 1"
    )
    runs = warehouse.query(
        f"SELECT DISTINCT SPLIT(x_delivery_id, ':')[OFFSET(0)] AS run "
        f"FROM `{warehouse.table_id(dataset, 'azure_cost_export')}`"
    )
    totals = {r["c"]: (r["n"], r["billed"], r["effective"]) for r in rows}
    return {**totals, "runs": sorted(r["run"] for r in runs)}


# Run 1, by hand (sample_rows, scale 1). USD billed: VM 4.608 + reservation 1016.16 + savings plan fee 43.80
# + storage 0.173333333 + SQL 12 + OpenAI 6.25 + Language 12 + bandwidth 8.70 - prepayment credit 20 - refund 150
# = 933.691333333 (commitment-covered usage bills 0). USD effective: 4.608 + 2.784 + 0.232 (unused) + 1.44
# + 0.173333333 + 12 + 6.25 + 12 + 8.70 - 20 (fees and the refund amortise to 0) = 28.187333333.
# EUR: VM 24 h × 0.192 × 0.92 = 4.23936, VAT 0.805478 → 5.044838 billed and effective.
RUN_1 = {
    "USD": (13, Decimal("933.691333333"), Decimal("28.187333333")),
    "EUR": (2, Decimal("5.044838"), Decimal("5.044838")),
}
# Run 2 restates the month: every metered usage quantity doubled (VM 9.216, storage 16.666666666 × 0.0208
# = 0.346666667, SQL 24, OpenAI 12.5, Language 24, bandwidth 17.4; commitments, credit, refund and tax as before).
# USD billed 9.216 + 1016.16 + 43.80 + 0.346666667 + 24 + 12.5 + 24 + 17.4 - 20 - 150 = 977.422666667; effective
# 9.216 + 2.784 + 0.232 + 1.44 + 0.346666667 + 24 + 12.5 + 24 + 17.4 - 20 = 71.918666667. EUR 8.47872 + 0.805478.
RUN_2 = {
    "USD": (13, Decimal("977.422666667"), Decimal("71.918666667")),
    "EUR": (2, Decimal("9.284198"), Decimal("9.284198")),
}


def test_an_overwrite_run_reloads_its_month_whole_and_nothing_twice(env):
    slug, folder = "golden_azure_overwrite", "overwrite/focus"
    _write(env, folder, "run-1", "2025-11-03T06:00:00Z")
    assert _load(env, slug, folder) == 30  # 15 raw rows + 15 FOCUS rows
    assert _totals(env, slug) == {**RUN_1, "runs": ["run-1"]}
    # Cost Management overwrites the month's folder with the next run: other amounts, same blob names.
    # (Plain CSV this time: the reader takes the format from each blob's name.)
    _write(env, folder, "run-2", "2025-11-04T06:00:00Z", scale=Decimal(2), file_format="csv")
    assert _load(env, slug, folder) == 30
    assert _totals(env, slug) == {**RUN_2, "runs": ["run-2"]}  # run 1's rows are gone, not added to
    assert _load(env, slug, folder) == 0  # the same run again: nothing to load
    assert _totals(env, slug) == {**RUN_2, "runs": ["run-2"]}
    _assert_eur_rows_keep_their_profile(env, slug)


def _assert_eur_rows_keep_their_profile(env, slug: str) -> None:
    """The EUR billing profile's rows: its own currency, exchange rate and Microsoft's x_ columns, as exported."""
    settings, warehouse = env
    rows = warehouse.query(
        f"SELECT x_BillingProfileId, x_BillingExchangeRate, x_SkuMeterCategory, BilledCost "
        f"FROM `{warehouse.table_id(settings.org_dataset(slug), 'azure_cost_export')}` WHERE BillingCurrency = 'EUR'"
    )
    assert {(r["x_BillingProfileId"], r["x_BillingExchangeRate"]) for r in rows} == {
        ("JK67-LM89-NO1-PQR", Decimal("0.92"))
    }
    assert {r["x_SkuMeterCategory"] for r in rows} == {"Virtual Machines", None}  # the tax row names no meter
    assert sorted(r["BilledCost"] for r in rows) == [Decimal("0.805478"), Decimal("8.47872")]


def test_a_new_run_export_loads_the_newest_complete_run_folder(env):
    slug, folder = "golden_azure_new_runs", "new-runs/focus"
    _write(env, folder, "run-1", "2025-11-03T06:00:00Z", overwrite=False, file_format="parquet",
           version="1.2-preview")  # fmt: skip
    _write(env, folder, "run-2", "2025-11-04T06:00:00Z", scale=Decimal(2), overwrite=False,
           file_format="parquet", version="1.2-preview")  # fmt: skip
    # A newer run whose manifest lists a blob that is not (yet) there: never read, half or whole.
    manifest = _write(env, folder, "run-3", "2025-11-05T06:00:00Z", scale=Decimal(3), overwrite=False)
    settings, _ = env
    container = local_container(settings.storage_endpoint("azure"), METADATA["container"])
    container.delete_blob(manifest["blobs"][0]["blobName"])
    assert _load(env, slug, folder) == 30
    assert _totals(env, slug) == {**RUN_2, "runs": ["run-2"]}
    run_folders = {b.name.split("/")[4] for b in container.list_blobs(name_starts_with=month_folder(
        ExportLocation.of({**METADATA, "directory": folder}), NOVEMBER))}  # fmt: skip
    assert run_folders == {"run-1", "run-2", "run-3"}
