"""Golden: the OpenAI golden tables (expected_usage_rows, expected_costs_rows) → openai.focus → expected FOCUS rows.

The FOCUS mapping is SQL run in the warehouse, so this golden test needs the local BigQuery."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from shared.providers.registry import get_processor
from shared.warehouse.datasets import ensure_org_dataset
from shared.warehouse.schemas import load_table_specs
from tests.focus_conformance import violations
from tests.kit.golden import jsonable, typed_row
from tests.kit.steps import step_context

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "openai"
START, END = date(2024, 11, 1), date(2024, 11, 4)
INGESTED_AT = datetime(2024, 11, 5, 7, 0, tzinfo=UTC)
ORDER = ("ChargePeriodStart", "SubAccountId", "SkuId")


def _load_golden_tables(settings, warehouse, slug) -> None:
    dataset = ensure_org_dataset(settings, warehouse, slug)
    specs = load_table_specs(settings.config_dir, "org")
    for table in ("openai_usage_daily", "openai_costs_daily"):
        rows = json.loads((GOLDEN / f"expected_{table.split('_')[1]}_rows.json").read_text())
        warehouse.replace_slice(dataset, specs[table], [typed_row(r, specs[table]) for r in rows], START, END)


def _focus(settings, warehouse, slug) -> list[dict]:
    ctx = step_context(
        "openai",
        START,
        END,
        "sk-x",
        settings=settings,
        org_slug=slug,
        seconds=60,
        destination_table="cost_focus",
    )
    written = get_processor("openai.focus").run(ctx, warehouse)
    table = f"{settings.project}.{settings.org_dataset(slug)}.cost_focus"
    rows = warehouse.query(f"SELECT * FROM `{table}` ORDER BY {', '.join(ORDER)}")
    assert written == len(rows)
    return [{**row, "x_ingested_at": INGESTED_AT} for row in rows]  # the one value that differs per run


def test_openai_tables_become_expected_focus_rows(settings, warehouse):
    slug = "golden_openai"  # the org's slug is the FOCUS BillingAccountId of its OpenAI rows
    _load_golden_tables(settings, warehouse, slug)
    rows = _focus(settings, warehouse, slug)
    assert jsonable(rows) == json.loads((GOLDEN / "expected_focus_rows.json").read_text())
    costs = json.loads((GOLDEN / "expected_costs_rows.json").read_text())
    assert sum(r["BilledCost"] for r in rows) == sum(
        Decimal(c["amount"]) for c in costs
    )  # to the last decimal
    # Every Usage row is measured (usage tokens, else the Costs API's quantity); the remainder without line item
    # or quantity is an Adjustment (issue 15).
    assert violations(rows) == {}
    assert _focus(settings, warehouse, slug) == rows  # a rerun replaces the slice: same rows, no copies
