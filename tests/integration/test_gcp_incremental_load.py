"""GCP billing against the local BigQuery: a load, late rows and a restatement, a vanished partition; totals always
equal the export's own SUM(cost) + SUM(credits) per day, exactly, with no duplicates."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from devstack.providers.gcp.export import ExportSpec, generate_export, write_export
from shared.providers.contract import StepContext
from shared.providers.registry import get_processor
from shared.tenancy import onboarding
from shared.tenancy.credentials import load_credential
from tests.kit.orgs import attach_gcp_export, unique_slug

DAYS = (date(2025, 11, 1), date(2025, 11, 5))
TABLE_NAME = "gcp_billing_export_resource_v1_0A1B2C_3D4E5F_6A7B8C"


@pytest.fixture
def gcp_org(settings, warehouse):
    """An org with a GCP credential naming its own stand-in export (usage days 1-5 of November 2025)."""
    slug = unique_slug()
    onboarding.create_org(settings, slug, "professional", "ACTIVE")
    export = generate_export(ExportSpec(start=DAYS[0], days=5, rows_per_day=60))
    return slug, attach_gcp_export(settings, warehouse, slug, TABLE_NAME, export, "test")


def _run(settings, warehouse, kms, slug, run_id, start=DAYS[0], end=DAYS[1]) -> int:
    credential = load_credential(warehouse, settings, kms, slug, "gcp")
    ctx = StepContext(
        slug,
        run_id,
        start,
        end,
        credential,
        settings,
        time.monotonic() + 300,
        destination_table="gcp_billing_daily",
    )
    return get_processor("gcp.billing_export").run(ctx, warehouse)


def _export_totals(warehouse, table_id) -> dict:
    rows = warehouse.query(f"""
        SELECT DATE(usage_start_time) AS day, currency,
               SUM(CAST(cost AS NUMERIC)) + SUM(IFNULL((SELECT SUM(CAST(c.amount AS NUMERIC))
                                                        FROM UNNEST(credits) AS c), 0)) AS net,
               COUNT(*) AS n
        FROM `{table_id}` GROUP BY day, currency""")
    return {(r["day"], r["currency"]): (r["net"], r["n"]) for r in rows}


def _loaded_totals(warehouse, settings, slug) -> tuple[dict, dict]:
    dataset = f"{settings.project}.{settings.org_dataset(slug)}"
    focus = warehouse.query(f"""
        SELECT DATE(ChargePeriodStart) AS day, BillingCurrency AS currency, SUM(BilledCost) AS net, COUNT(*) AS n
        FROM `{dataset}.cost_focus`
        WHERE ProviderName = 'Google Cloud' AND IFNULL(x_cost_type, '') != 'unused_commitment'
        GROUP BY day, currency""")
    # Unused-commitment rows (one per CUD pool-hour left unused) bill nothing and come from no export row: their
    # BilledCost is 0, so the sums above hold with them too; they are left out only to count rows one to one.
    raw = warehouse.query(f"""
        SELECT usage_date AS day, currency, SUM(net_cost) AS net, COUNT(*) AS n
        FROM `{dataset}.gcp_billing_daily` GROUP BY day, currency""")
    as_map = lambda rows: {(r["day"], r["currency"]): (r["net"], r["n"]) for r in rows}
    return as_map(focus), as_map(raw)


def _assert_loaded_equals_export(warehouse, settings, slug, table_id) -> None:
    focus, raw = _loaded_totals(warehouse, settings, slug)
    export = _export_totals(warehouse, table_id)
    assert focus == raw == export  # per usage day and currency: exact sums and row counts (no duplicates)
    assert {day for day, _ in export} >= {date(2025, 11, d) for d in range(1, 6)}


def _state(warehouse, settings, slug) -> dict:
    table = f"{settings.project}.{settings.org_dataset(slug)}.gcp_billing_load_state"
    return {r["partition_date"]: r for r in warehouse.query(f"SELECT * FROM `{table}`")}


def test_load_then_late_rows_and_a_restatement_reload_only_their_partition(settings, warehouse, kms, gcp_org):
    slug, table_id = gcp_org
    assert _run(settings, warehouse, kms, slug, "run-1") > 0
    _assert_loaded_equals_export(warehouse, settings, slug, table_id)
    assert _run(settings, warehouse, kms, slug, "run-2") == 0  # nothing changed at the source: nothing loaded

    later = datetime(2025, 11, 9, 3, tzinfo=UTC)
    late = generate_export(
        ExportSpec(
            start=date(2025, 11, 2),
            days=1,
            rows_per_day=30,
            seed=99,
            exported_at=later,
            with_fixed_rows=False,
        )
    )
    day2 = date(2025, 11, 2)
    late = late.filter(
        pc.equal(pc.cast(late["_PARTITIONTIME"], pa.date32()), day2)
    )  # rows for day 2's partition
    write_export(warehouse.client, table_id, late)
    # Google restates day 2: some of its rows are replaced in place, cheaper, with a newer export_time.
    warehouse.execute(
        f"""UPDATE `{table_id}` SET cost = cost * 0.5, export_time = @later
        WHERE DATE(_PARTITIONTIME) = @day AND sku.id = 'CP-COMPUTEENGINE-N2-RAM'""",
        {"later": later, "day": day2},
    )
    assert _run(settings, warehouse, kms, slug, "run-3") > 0
    _assert_loaded_equals_export(warehouse, settings, slug, table_id)
    reloaded = {
        p for p, row in _state(warehouse, settings, slug).items() if row["x_pipeline_logging_id"] == "run-3"
    }
    assert reloaded == {day2}  # exactly the partition that changed
    assert _run(settings, warehouse, kms, slug, "run-4") == 0


def test_a_partition_gone_from_the_export_is_removed_and_unrequested_ones_are_not_read(
    settings, warehouse, kms, gcp_org
):
    slug, table_id = gcp_org
    _run(settings, warehouse, kms, slug, "run-1")
    warehouse.execute(
        f"DELETE FROM `{table_id}` WHERE DATE(_PARTITIONTIME) = @day", {"day": date(2025, 11, 4)}
    )
    old = generate_export(ExportSpec(start=date(2025, 9, 10), days=1, rows_per_day=20))
    write_export(warehouse.client, table_id, old)  # far outside any run's window
    _run(settings, warehouse, kms, slug, "run-2")
    state = _state(warehouse, settings, slug)
    assert state[date(2025, 11, 4)]["row_count"] == 0 and date(2025, 9, 10) not in state
    focus, raw = _loaded_totals(warehouse, settings, slug)
    export = {key: value for key, value in _export_totals(warehouse, table_id).items() if key[0].month == 11}
    assert focus == raw == export


def test_an_export_from_before_the_new_cud_model_loads_its_missing_columns_as_nulls(
    settings, warehouse, kms, gcp_org
):
    """Exports written before spend-based CUDs' new data model (and before tags) lack consumption_model,
    cost_at_effective_price_default and tags: they are read as typed NULLs, ContractedCost falls back to cost."""
    slug, table_id = gcp_org
    for column in ("consumption_model", "cost_at_effective_price_default", "tags"):
        warehouse.execute(f"ALTER TABLE `{table_id}` DROP COLUMN {column}")
    assert _run(settings, warehouse, kms, slug, "run-1") > 0
    _assert_loaded_equals_export(warehouse, settings, slug, table_id)
    dataset = f"{settings.project}.{settings.org_dataset(slug)}"
    rows = warehouse.query(f"""
        SELECT COUNTIF(consumption_model IS NOT NULL OR cost_at_effective_price_default IS NOT NULL) AS filled,
               COUNTIF(ARRAY_LENGTH(tags) > 0) AS tagged
        FROM `{dataset}.gcp_billing_daily`""")
    assert (rows[0]["filled"], rows[0]["tagged"]) == (0, 0)
    differing = warehouse.query(f"""
        SELECT COUNT(*) AS n FROM `{dataset}.cost_focus` f
        WHERE ProviderName = 'Google Cloud' AND x_cost_type = 'regular' AND ChargeCategory = 'Usage'
          AND CommitmentDiscountCategory IS NULL AND ContractedCost != BilledCost - x_credits_total""")
    assert differing[0]["n"] == 0  # ContractedCost is cost (= net - credits) without the new model's column
