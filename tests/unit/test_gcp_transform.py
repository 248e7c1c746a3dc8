"""The vectorised GCP transform against the row-by-row reference, on generated exports (no I/O)."""

from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from devstack.providers.gcp import rowwise
from devstack.providers.gcp.export import ExportSpec, generate_export
from shared.platform.settings import DEFAULT_CONFIG_DIR
from shared.providers.gcp.focus import focus_rows
from shared.providers.gcp.transform import raw_rows, source_schema
from shared.providers.kit.focus import service_classes
from tests.focus_conformance import violations

NOW = datetime(2025, 11, 20, tzinfo=UTC)
AUDIT = {"x_source_table": "p.d.t", "x_pipeline_logging_id": "run-1", "x_ingested_at": NOW}


def _source(spec: ExportSpec) -> pa.Table:
    """Generated export rows shaped as the source query returns them (standard exports: typed null columns)."""
    table = generate_export(spec)
    table = table.add_column(0, "partition_date", pc.cast(table["_PARTITIONTIME"], pa.date32()))
    table = table.drop_columns(["_PARTITIONTIME"])
    schema = source_schema(DEFAULT_CONFIG_DIR)
    for name in ("resource", "price"):
        if name not in table.column_names:
            table = table.append_column(schema.field(name), pa.nulls(table.num_rows, schema.field(name).type))
    return table.select(schema.names).cast(schema)


@pytest.mark.parametrize("detailed", [True, False])
def test_vectorised_equals_row_by_row_on_a_generated_export(detailed):
    source = _source(ExportSpec(start=date(2025, 10, 30), days=4, rows_per_day=400, detailed=detailed))
    raw = raw_rows(source, AUDIT)
    focus = focus_rows(raw, DEFAULT_CONFIG_DIR, "run-1", NOW)
    classes, default = service_classes(DEFAULT_CONFIG_DIR, "Google Cloud")
    reference = [rowwise.raw_row(row, AUDIT) for row in source.to_pylist()]
    assert raw.to_pylist() == reference
    assert focus.to_pylist() == rowwise.focus_rows(reference, classes, default, "run-1", NOW)
    assert violations(focus.to_pylist()) == {}


def test_transforming_in_chunks_gives_the_same_rows():
    """The load transforms whole export partitions at a time (a CUD fee and the usage it covers share their
    hour, so their partition): partition by partition gives the rows of the whole (unused rows in another order)."""
    source = _source(ExportSpec(start=date(2025, 11, 1), days=2, rows_per_day=300))
    whole = focus_rows(raw_rows(source, AUDIT), DEFAULT_CONFIG_DIR, "run-1", NOW)
    parts = [
        focus_rows(
            raw_rows(source.filter(pc.equal(source["partition_date"], day)), AUDIT),
            DEFAULT_CONFIG_DIR,
            "run-1",
            NOW,
        )
        for day in pc.unique(source["partition_date"]).to_pylist()
    ]
    assert sorted(pa.concat_tables(parts).to_pylist(), key=repr) == sorted(whole.to_pylist(), key=repr)


def test_the_generator_is_deterministic_per_day_and_realistic():
    first = generate_export(ExportSpec(start=date(2025, 11, 1), days=3, rows_per_day=200))
    later = generate_export(ExportSpec(start=date(2025, 11, 2), days=3, rows_per_day=200))
    day = lambda t: t.filter(pc.equal(pc.cast(t["usage_start_time"], pa.date32()), date(2025, 11, 3)))
    assert day(first).equals(day(later))  # a usage day has the same rows whatever range covers it
    kinds = set(pc.struct_field(pc.list_flatten(first["credits"]), "type").to_pylist())
    assert {"SUSTAINED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT", "PROMOTION", "FREE_TIER"} <= kinds
    assert set(first["cost_type"].to_pylist()) == {"regular", "tax", "adjustment", "rounding_error"}
    assert set(first["currency"].to_pylist()) == {"USD", "EUR"}
    late = pc.greater(
        pc.subtract(first["export_time"], first["usage_end_time"]),
        pa.scalar(86_400_000_000, pa.duration("us")),
    )
    assert (
        0 < pc.sum(late).as_py() < first.num_rows * 0.2
    )  # some rows arrive days late, in their old partition
    as_of = generate_export(
        ExportSpec(
            start=date(2025, 11, 1), days=3, rows_per_day=200, as_of=datetime(2025, 11, 3, 12, tzinfo=UTC)
        )
    )
    assert 0 < as_of.num_rows < first.num_rows  # rows not exported yet are not there yet


def test_the_sandbox_bills_commitments_and_tags_and_amortises_them_exactly():
    """The demo's export has CUD fees of both models, usage at the new model's CUD price with its offset credit,
    and tags; amortising moves the fees onto usage without creating or losing a cent per currency."""
    source = _source(ExportSpec(start=date(2025, 11, 1), days=2, rows_per_day=300))
    kinds = set(pc.struct_field(pc.list_flatten(source["credits"]), "type").to_pylist())
    assert "FEE_UTILIZATION_OFFSET" in kinds
    models = set(pc.struct_field(source["consumption_model"], "description").to_pylist())
    assert models == {"Default", "Compute Flexible CUD - 1 Year"}
    assert (
        pc.sum(pc.list_value_length(source["tags"])).as_py()
        == source.num_rows * 1
        + pc.sum(
            pc.is_in(pc.struct_field(source["project"], "id"), pa.array(["acme-web-prod", "acme-eu-shop"]))
        ).as_py()
    )  # the organization's tag on every row, a project tag on two of the projects
    rows = focus_rows(raw_rows(source, AUDIT), DEFAULT_CONFIG_DIR, "run-1", NOW).to_pylist()
    seen = {
        (r["ChargeCategory"], r["CommitmentDiscountCategory"], r["CommitmentDiscountStatus"]) for r in rows
    }
    assert {("Purchase", "Spend", None), ("Purchase", "Usage", None), ("Usage", "Spend", "Used")} <= seen
    assert {("Usage", "Usage", "Used"), ("Usage", "Spend", "Unused")} <= seen
    for currency in ("USD", "EUR"):
        billed = sum(r["BilledCost"] for r in rows if r["BillingCurrency"] == currency)
        assert billed == sum(r["EffectiveCost"] for r in rows if r["BillingCurrency"] == currency)
