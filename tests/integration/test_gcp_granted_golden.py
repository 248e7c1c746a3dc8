"""Golden equality of GCP's two access modes: the same export loaded with a key (rows read into the function and
transformed in Python) and with access granted (transformed by SQL in the warehouse) gives identical
gcp_billing_daily, cost_focus and load-state rows, every column, to the last of NUMERIC's 9 decimals: on the synthetic
generator's export (usage, every credit type, tax, adjustments, rounding, late rows, CUD fees and covered usage, USD
beside EUR), after a day is restated, and on the suite's recorded slice with the hand-worked commitment cases.

One org per mode for the module (creating an org's tables takes seconds on the stand-in): each test loads the same
exports into both, so their whole tables stay comparable."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from shared.platform.settings import DEFAULT_CONFIG_DIR, settings_from_env
from shared.providers.contract import Credential, StepContext
from tests.kit.golden import canonical
from tests.kit.warehouse_standin import PROJECT
from tests.providers.case import VOLATILE_COLUMNS
from tests.providers.gcp import KEY

CUSTOMER = "granted-customer"
TABLES = ("gcp_billing_daily", "cost_focus", "gcp_billing_load_state")
START = date(2025, 11, 3)


@pytest.fixture(scope="module")
def settings(bigquery_standin):
    return settings_from_env(
        {
            "GCP_PROJECT_ID": PROJECT,
            "ENVIRONMENT": "local",
            "KMS_KEY_NAME": f"projects/{PROJECT}/locations/global/keyRings/dps/cryptoKeys/credentials",
            "BIGQUERY_API_ENDPOINT": bigquery_standin.url,
            "BIGQUERY_STORAGE_API_ENDPOINT": bigquery_standin.grpc_address,
            "CONFIG_DIR": str(DEFAULT_CONFIG_DIR),
        }
    )


@pytest.fixture(scope="module")
def warehouse(settings):
    from google.cloud import bigquery

    from shared.platform.clients import make_bigquery_client, make_bigquery_write_client
    from shared.warehouse.adapter import Warehouse

    warehouse = Warehouse(
        make_bigquery_client(settings), settings.project, write_client=make_bigquery_write_client(settings)
    )
    warehouse.client.create_dataset(bigquery.Dataset(f"{CUSTOMER}.exports"), exists_ok=True)
    return warehouse


def _export_id(name: str) -> str:
    return f"{CUSTOMER}.exports.gcp_billing_export_resource_v1_{name}_C4D5E6_F7A8B9"


def _load(settings, warehouse, org: str, export_id: str, granted: bool, first: date, last: date):
    """One load of [first, last] (its look-back included) into `org`, as the step runs it; the org's tables."""
    from shared.providers.gcp.load import load_billing_export
    from shared.warehouse.schemas import load_table_specs

    # Only the three tables a GCP load writes (an org's full set takes seconds to create on the stand-in).
    dataset = settings.org_dataset(org)
    warehouse.ensure_dataset(dataset, settings.bigquery_location)
    specs = load_table_specs(settings.config_dir, "org")
    for table in TABLES:
        warehouse.ensure_table(dataset, specs[table])
    metadata = {"billing_export_table": export_id, **({"access": "granted"} if granted else {})}
    ctx = StepContext(
        org,
        f"run_{org}",
        first,
        last,
        Credential("gcp", "" if granted else KEY, metadata),
        settings,
        time.monotonic() + 600,
        destination_table="gcp_billing_daily",
    )
    written = load_billing_export(ctx, warehouse)
    return written, {table: _rows(settings, warehouse, dataset, table) for table in TABLES}


def _rows(settings, warehouse, dataset: str, table: str) -> list[dict]:
    """Every row of a table (through the Storage Read API: paging JSON over REST takes seconds), volatile columns
    removed, values canonical, in one stable order."""
    from shared.providers.gcp.source import _local_read_client

    result = warehouse.client.query_and_wait(f"SELECT * FROM `{warehouse.table_id(dataset, table)}`")
    arrow = result.to_arrow(bqstorage_client=_local_read_client(settings.bigquery_storage_api_endpoint))
    rows = [
        {k: canonical(v) for k, v in row.items() if k not in VOLATILE_COLUMNS} for row in arrow.to_pylist()
    ]
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))


def _both(settings, warehouse, name: str, first: date, last: date):
    key = _load(settings, warehouse, "key_mode", _export_id(name), False, first, last)
    granted = _load(settings, warehouse, "granted_mode", _export_id(name), True, first, last)
    return key, granted


def _assert_same(key, granted) -> None:
    (key_written, key_tables), (granted_written, granted_tables) = key, granted
    for table in TABLES:
        assert len(granted_tables[table]) == len(key_tables[table]), table
        for index, (expected, actual) in enumerate(
            zip(key_tables[table], granted_tables[table], strict=True)
        ):
            differing = {c: (expected[c], actual.get(c)) for c in expected if expected[c] != actual.get(c)}
            assert not differing, f"{table} row {index}: {differing}"
        assert granted_tables[table] == key_tables[table]
    assert granted_written == key_written


def _write(warehouse, export_id: str, table: pa.Table, replace: bool = True) -> None:
    from devstack.providers.gcp.export import write_export

    write_export(warehouse.client, export_id, table, replace=replace)


def test_generated_export_gives_identical_rows_in_both_modes_also_after_a_restated_day(settings, warehouse):
    from devstack.providers.gcp.export import ExportSpec, generate_export

    spec = ExportSpec(start=START, days=3, rows_per_day=150)
    export = generate_export(spec)
    kinds = set(export["cost_type"].to_pylist())
    credit_types = {c["type"] for credits in export["credits"].to_pylist() for c in credits or ()}
    currencies = set(export["currency"].to_pylist())
    late = sum(
        e.date() > s.date()
        for s, e in zip(
            export["usage_start_time"].to_pylist(), export["export_time"].to_pylist(), strict=True
        )
    )
    # What the comparison covers: tax, adjustments, every credit type, two currencies, late rows, CUD fees.
    assert (
        {"regular", "tax", "adjustment", "rounding_error"} <= kinds
        and {"USD", "EUR"} <= currencies
        and late > 0
    )
    # Every credit type the generator makes (the export's documented types it models).
    assert credit_types == {
        "COMMITTED_USAGE_DISCOUNT",
        "FEE_UTILIZATION_OFFSET",
        "SUSTAINED_USAGE_DISCOUNT",
        "DISCOUNT",
        "FREE_TIER",
        "PROMOTION",
    }
    fees = [d for d in export["sku"].to_pylist() if d["description"].startswith("Commitment")]
    assert fees, "the generator's export has commitment fees"
    _write(warehouse, _export_id("0A0A0A"), export)
    last = START + timedelta(days=2)
    first_key, first_granted = _both(settings, warehouse, "0A0A0A", last, last)
    _assert_same(first_key, first_granted)
    assert first_key[0] > 0 and len(first_key[1]["cost_focus"]) > 3 * 150

    # Google restates a day: a late batch of it arrives (later export_time, more rows in its partition).
    restated = generate_export(
        ExportSpec(
            start=START + timedelta(days=1),
            days=1,
            rows_per_day=40,
            seed=11,
            exported_at=datetime(2025, 11, 9, 4, tzinfo=UTC),
        )
    )
    _write(warehouse, _export_id("0A0A0A"), restated, replace=False)
    key, granted = _both(settings, warehouse, "0A0A0A", last, last)
    _assert_same(key, granted)
    assert key[0] > 0  # the restated partition was reloaded in both modes
    assert len(key[1]["gcp_billing_daily"]) == len(first_key[1]["gcp_billing_daily"]) + restated.num_rows


def test_the_suites_recorded_slice_and_the_hand_worked_commitment_cases_give_identical_rows(
    settings, warehouse
):
    """The suite's slice (usage, credits, tax, an adjustment of an earlier partition, rounding, EUR, Marketplace)
    and test_gcp_commitments_golden's rows (legacy CUDs amortised by credit with the remainder on the last row,
    the new model's offset credit, an unused commitment, FOCUS rules on tax, adjustments and units) in one export."""
    from devstack.providers.gcp.export_arrow import export_spec
    from shared.warehouse.arrow import arrow_schema
    from tests.golden import test_gcp_commitments_golden as cases
    from tests.providers.gcp import seed_export

    seed_export(warehouse, {"billing_export_table": _export_id("0B0B0B")})
    rows = [
        {
            **{k: v for k, v in row.items() if k != "partition_date"},
            "_PARTITIONTIME": datetime.combine(row["partition_date"], datetime.min.time(), UTC),
        }
        for case in (cases.LEGACY, cases.NEW_MODEL, cases.RULES)
        for row in case
    ]
    table = pa.Table.from_pylist(rows, schema=arrow_schema(export_spec(True)))
    _write(warehouse, _export_id("0B0B0B"), table, replace=False)
    key, granted = _both(settings, warehouse, "0B0B0B", date(2025, 11, 2), date(2025, 11, 3))
    _assert_same(key, granted)
    focus = [r for r in granted[1]["cost_focus"] if r["x_source_partition"] in ("2025-11-02", "2025-11-03")]
    assert any(r["CommitmentDiscountStatus"] == "Unused" for r in focus)
    assert any(r["ChargeCategory"] == "Purchase" for r in focus)
    assert any(r["ChargeClass"] == "Correction" for r in focus)
