"""Slice replacement against the BigQuery emulator: exact NUMERIC, one copy per re-run, other days untouched."""

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shared.warehouse.adapter import SchemaDriftError
from shared.warehouse.schemas import Column, load_table_specs


def _cost_row(day, amount, run="r1"):
    return {
        "cost_date": day,
        "project_id": "proj_a",
        "line_item": "gpt-4o, input",
        "amount": Decimal(amount),
        "currency": "USD",
        "x_pipeline_logging_id": run,
        "x_ingested_at": datetime.now(UTC),
    }


@pytest.mark.parametrize("path", ["inline", "staged"])
def test_replace_slice_is_idempotent_exact_and_bounded(settings, warehouse, monkeypatch, path):
    """Both ways a slice travels (inline parameter, staging table) load the same exact rows."""
    if path == "staged":
        monkeypatch.setattr("shared.warehouse.params.INLINE_SLICE_MAX_ROWS", 0)
    dataset = f"slice_test_{path}_local"
    warehouse.ensure_dataset(dataset)
    spec = load_table_specs(settings.config_dir, "org")["openai_costs_daily"]
    warehouse.ensure_table(dataset, spec)
    outside = _cost_row(date(2025, 10, 31), "5.000000001")
    warehouse.replace_slice(dataset, spec, [outside], date(2025, 10, 31), date(2025, 10, 31))
    rows = [
        _cost_row(date(2025, 11, 1), "0.123456789"),
        _cost_row(date(2025, 11, 2), "12345678901234567890.5"),
    ]
    for run in ("r1", "r2"):  # the same slice twice: the second replaces the first
        warehouse.replace_slice(
            dataset,
            spec,
            [{**r, "x_pipeline_logging_id": run} for r in rows],
            date(2025, 11, 1),
            date(2025, 11, 2),
        )
    table = f"{settings.project}.{dataset}.openai_costs_daily"
    got = warehouse.query(
        f"SELECT cost_date, amount, x_pipeline_logging_id FROM `{table}` ORDER BY cost_date"
    )
    assert [(r["cost_date"], r["amount"], r["x_pipeline_logging_id"]) for r in got] == [
        (date(2025, 10, 31), Decimal("5.000000001"), "r1"),
        (date(2025, 11, 1), Decimal("0.123456789"), "r2"),
        (date(2025, 11, 2), Decimal("12345678901234567890.5"), "r2"),
    ]
    total = warehouse.query(f"SELECT SUM(amount) AS s FROM `{table}`")[0]["s"]
    assert total == Decimal("12345678901234567895.623456790")
    # No staging table is left behind.
    assert not [t.table_id for t in warehouse.client.list_tables(dataset) if t.table_id.startswith("_stage")]
    # An empty result empties its slice and nothing else.
    assert warehouse.replace_slice(dataset, spec, [], date(2025, 11, 2), date(2025, 11, 2)) == 0
    left = warehouse.query(f"SELECT cost_date FROM `{table}` ORDER BY cost_date")
    assert [r["cost_date"] for r in left] == [date(2025, 10, 31), date(2025, 11, 1)]


def test_ensure_table_adds_the_columns_a_spec_gained_and_keeps_the_rows(settings, warehouse):
    dataset = "schema_evolution_local"
    warehouse.ensure_dataset(dataset)
    spec = load_table_specs(settings.config_dir, "org")["openai_costs_daily"]
    old = dataclasses.replace(spec, columns=tuple(c for c in spec.columns if c.name != "line_item"))
    warehouse.ensure_table(dataset, old)
    row = {k: v for k, v in _cost_row(date(2025, 11, 1), "1.5").items() if k != "line_item"}
    warehouse.replace_slice(dataset, old, [row], date(2025, 11, 1), date(2025, 11, 1))

    warehouse.ensure_table(dataset, spec)  # what onboarding / a deploy does with the newer spec

    table = warehouse.client.get_table(f"{settings.project}.{dataset}.openai_costs_daily")
    assert [field.name for field in table.schema][-1] == "line_item"
    got = warehouse.query(f"SELECT amount, line_item FROM `{table.project}.{dataset}.{table.table_id}`")
    assert [(r["amount"], r["line_item"]) for r in got] == [(Decimal("1.5"), None)]


def test_ensure_table_refuses_a_new_required_column(settings, warehouse):
    dataset = "schema_required_local"
    warehouse.ensure_dataset(dataset)
    spec = load_table_specs(settings.config_dir, "org")["openai_costs_daily"]
    warehouse.ensure_table(dataset, spec)
    extra = Column(name="must_have", type="STRING", mode="REQUIRED")
    with pytest.raises(SchemaDriftError, match="must_have"):
        warehouse.ensure_table(dataset, dataclasses.replace(spec, columns=(*spec.columns, extra)))


def test_an_org_dataset_gains_a_deploys_new_columns_on_its_next_run(settings, warehouse, monkeypatch):
    from shared.warehouse.adapter import SCHEMA_LABEL
    from shared.warehouse.datasets import ensure_org_dataset

    slug = "schemadeploy"
    dataset = settings.org_dataset(slug)
    warehouse.ensure_dataset(dataset)
    spec = load_table_specs(settings.config_dir, "org")["cost_focus"]
    # The table as the previous deploy made it: without a column the current spec has.
    old = dataclasses.replace(spec, columns=tuple(c for c in spec.columns if c.name != "ServiceSubcategory"))
    warehouse.ensure_table(dataset, old)

    ensure_org_dataset(settings, warehouse, slug)  # what every run does first

    table = warehouse.client.get_table(f"{settings.project}.{dataset}.cost_focus")
    assert "ServiceSubcategory" in [field.name for field in table.schema]
    assert table.labels[SCHEMA_LABEL] == spec.schema_digest
    calls = []
    for method in ("create_table", "update_table", "get_table"):
        monkeypatch.setattr(warehouse.client, method, lambda *args, m=method, **kwargs: calls.append(m))
    # Every table current: the listing says so, and no table is created, read or updated.
    ensure_org_dataset(settings, warehouse, slug)
    assert calls == []
