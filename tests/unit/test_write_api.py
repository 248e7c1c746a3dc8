"""Storage Write API staging, without a warehouse: requests cut under the size limit, the stage check's SQL."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from shared.warehouse import write_api
from shared.warehouse.schemas import Column, TableSpec

SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("amount", pa.decimal128(38, 9))])


def _table(rows: int, chunk: int) -> pa.Table:
    table = pa.table(
        {"id": list(range(rows)), "amount": [Decimal(i) / 4 for i in range(rows)]}, schema=SCHEMA
    )
    return pa.Table.from_batches(table.to_batches(max_chunksize=chunk))


def _read(parts: list[bytes]) -> pa.Table:
    return pa.Table.from_batches([pa.ipc.read_record_batch(pa.py_buffer(p), SCHEMA) for p in parts])


def test_requests_stay_under_the_target_and_carry_every_row_once_in_order():
    table = _table(10_000, chunk=3_000)
    parts = list(write_api.request_batches(table, target_bytes=20_000))
    assert all(len(part) <= 20_000 for part in parts) and len(parts) > 10
    assert _read(parts).equals(pa.Table.from_batches(table.to_batches()).combine_chunks())


def test_small_chunks_are_joined_into_fewer_requests():
    table = _table(1_000, chunk=10)  # 100 chunks of ~250 bytes
    parts = list(write_api.request_batches(table, target_bytes=write_api.BATCH_TARGET_BYTES))
    assert len(parts) == 1 and _read(parts).num_rows == 1_000


def test_a_row_larger_than_a_request_is_refused():
    table = pa.table({"text": ["x" * 5_000]})
    with pytest.raises(ValueError, match="over the AppendRows request limit"):
        list(write_api.request_batches(table, target_bytes=1_000))


def test_the_target_leaves_room_under_the_documented_request_limit():
    assert write_api.BATCH_TARGET_BYTES < write_api.REQUEST_LIMIT_BYTES <= 10_000_000


def test_the_stage_check_runs_inside_the_script_and_names_its_failure():
    sql = write_api.stage_check_sql("p.d._stage_t_1", "stage_rows")
    assert (
        sql
        == f"ASSERT (SELECT COUNT(*) FROM `p.d._stage_t_1`) = @stage_rows AS '{write_api.STAGE_MISMATCH}';"
    )
    assert write_api.is_stage_mismatch(RuntimeError(f"400 POST ...: {write_api.STAGE_MISMATCH}"))
    assert not write_api.is_stage_mismatch(RuntimeError("Transaction is aborted due to concurrent update"))


def test_json_columns_are_staged_as_text_and_parsed_by_the_insert():
    spec = TableSpec("t", (Column("tags", "JSON"), Column("n", "INT64")))
    assert [c.type for c in write_api.stage_spec(spec).columns] == ["STRING", "INT64"]
    assert write_api.stage_select(spec.columns) == "PARSE_JSON(`tags`), `n`"
    assert write_api.default_stream("p.d.t") == "projects/p/datasets/d/tables/t/streams/_default"
