"""Warehouse extensions against the emulator: slices narrowed by `match`, TIMESTAMP slices, Arrow staging through the
Storage Write API (requests cut under the size limit; a stage holding other rows than were sent is never committed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from shared.warehouse import write_api
from shared.warehouse.adapter import slice_condition
from shared.warehouse.arrow import arrow_schema
from shared.warehouse.schemas import Column, TableSpec

SPEC = TableSpec(
    name="shared_slices",
    columns=(
        Column("at", "TIMESTAMP", "REQUIRED"),
        Column("provider", "STRING", "REQUIRED"),
        Column("amount", "NUMERIC", "REQUIRED"),
        Column("tags", "RECORD", "REPEATED", fields=(Column("key", "STRING"), Column("value", "STRING"))),
    ),
    partition_field="at",
    slice_field="at",
)


def _row(day: int, hour: int, provider: str, amount: str) -> dict:
    return {
        "at": datetime(2025, 11, day, hour, tzinfo=UTC),
        "provider": provider,
        "amount": Decimal(amount),
        "tags": [{"key": "k", "value": provider}],
    }


def test_a_provider_replaces_its_own_days_only(settings, warehouse):
    dataset = "slices_test_local"
    warehouse.ensure_dataset(dataset)
    warehouse.client.delete_table(warehouse.table_id(dataset, SPEC.name), not_found_ok=True)
    warehouse.ensure_table(dataset, SPEC)
    b_rows = [_row(d, h, "B", "1.5") for d in (1, 2, 3, 4) for h in (0, 23)]
    warehouse.replace_slice(
        dataset, SPEC, b_rows, date(2025, 11, 1), date(2025, 11, 4), match={"provider": "B"}
    )
    edges = [_row(1, 23, "A", "9"), _row(4, 0, "A", "9")]  # just outside [Nov 2, Nov 3] on both sides
    for day in (1, 4):
        warehouse.replace_slice(
            dataset,
            SPEC,
            [r for r in edges if r["at"].day == day],
            date(2025, 11, day),
            date(2025, 11, day),
            match={"provider": "A"},
        )
    for amount in ("0.1", "0.2"):  # twice: the second replaces the first
        rows = [_row(2, 0, "A", amount), _row(3, 23, "A", amount)]
        warehouse.replace_slice(
            dataset, SPEC, rows, date(2025, 11, 2), date(2025, 11, 3), match={"provider": "A"}
        )
    got = warehouse.query(
        f"SELECT provider, at, amount, tags FROM `{warehouse.table_id(dataset, SPEC.name)}` "
        "ORDER BY provider, at"
    )
    a_rows = [(r["at"].day, r["at"].hour, r["amount"]) for r in got if r["provider"] == "A"]
    assert a_rows == [
        (1, 23, Decimal(9)),
        (2, 0, Decimal("0.2")),
        (3, 23, Decimal("0.2")),
        (4, 0, Decimal(9)),
    ]
    assert [r["amount"] for r in got if r["provider"] == "B"] == [
        Decimal("1.5")
    ] * 8  # another provider's rows
    assert got[0]["tags"] == [{"key": "k", "value": "A"}]


def test_slice_conditions_use_parameters_and_known_columns_only():
    where, params = slice_condition(SPEC, {"provider": "Google Cloud"})
    assert (
        "TIMESTAMP(@slice_start)" in where
        and "Google Cloud" not in where
        and params == {"match_0": "Google Cloud"}
    )
    with pytest.raises(KeyError):
        slice_condition(SPEC, {"provider` = 'x' OR TRUE --": "x"})


def test_stage_writer_appends_batches_in_requests_under_a_size(settings, warehouse, monkeypatch):
    dataset = "slices_test_local"
    warehouse.ensure_dataset(dataset)
    table = pa.Table.from_pylist([_row(1, h, "A", str(h)) for h in range(5)], schema=arrow_schema(SPEC))
    stage = warehouse.table_id(dataset, "_stage_writer_test")
    warehouse.client.delete_table(stage, not_found_ok=True)
    sent = []
    monkeypatch.setattr(write_api, "_split", _recording(write_api._split, sent))
    writer = write_api.StageWriter(warehouse, stage, SPEC)
    assert (
        warehouse.query(f"SELECT COUNT(*) AS n FROM `{stage}`")[0]["n"] == 0
    )  # created empty, before any write
    for batch in table.to_batches(max_chunksize=2):
        writer.write(batch)
    writer._append(write_api.request_batches(table, target_bytes=600))  # small requests: cut by size
    assert writer.rows == 5 and len(sent) > 3
    assert warehouse.query(f"SELECT SUM(amount) AS s, COUNT(*) AS n FROM `{stage}`")[0] == {
        "s": Decimal(20),
        "n": 10,
    }
    warehouse.client.delete_table(stage)


def _recording(split, sent):
    def recorded(batch, target_bytes):
        for part in split(batch, target_bytes):
            sent.append(len(part))
            yield part

    return recorded


def test_a_stage_with_rows_doubled_is_rebuilt_and_never_committed_twice(settings, warehouse, monkeypatch):
    dataset = "slices_test_local"
    warehouse.ensure_dataset(dataset)
    spec = TableSpec("shared_stage_check", SPEC.columns, slice_field="at")
    warehouse.ensure_table(dataset, spec)
    rows = [_row(d, h, "A", "0.01") for d in (1, 2) for h in range(24)]  # REPEATED tags: always staged
    write_rows, attempts = write_api.StageWriter.write_rows, []

    def at_least_once(writer, batch):  # a retried request landing twice, as the default stream allows
        write_rows(writer, batch)
        attempts.append(writer.stage)
        if len(attempts) == 1:
            write_rows(writer, batch[:7])
            writer.rows -= 7

    monkeypatch.setattr(write_api.StageWriter, "write_rows", at_least_once)
    assert warehouse.replace_slice(dataset, spec, rows, date(2025, 11, 1), date(2025, 11, 2)) == 48
    got = warehouse.query(
        f"SELECT COUNT(*) AS n, SUM(amount) AS s FROM `{warehouse.table_id(dataset, spec.name)}`"
    )
    assert len(attempts) == 2 and got[0] == {"n": 48, "s": Decimal("0.48")}
    listed = {t.table_id for t in warehouse.client.list_tables(f"{warehouse.project}.{dataset}")}
    assert not any(name.startswith("_stage_shared_stage_check") for name in listed)  # both stages dropped
