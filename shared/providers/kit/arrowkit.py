"""Vectorised pyarrow building blocks for provider transforms (the GCP export, file exports): no Python per row,
only per distinct value."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from shared.platform.errors import TerminalError

NUMERIC = pa.decimal128(38, 9)  # BigQuery NUMERIC
_WIDE = pa.decimal256(40, 9)  # for sums of two NUMERICs: Arrow would need precision 39, then we check 38


def to_numeric(values: pa.Array) -> pa.Array:
    """FLOAT64 → NUMERIC, correctly rounded to 9 decimals: the value BigQuery's CAST(x AS NUMERIC) gives.

    (A float is a dyadic rational, so it is never exactly halfway at the 10th decimal: any correct rounding agrees.)
    """
    try:
        return pc.cast(values, NUMERIC)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise TerminalError("PROVIDER_BAD_DATA", f"an export amount does not fit NUMERIC: {exc}") from None


def add_numeric(left: pa.Array, right: pa.Array) -> pa.Array:
    """left + right for NUMERIC arrays, failing (never wrapping) if a sum leaves NUMERIC's range."""
    try:
        return pc.cast(pc.add_checked(pc.cast(left, _WIDE), pc.cast(right, _WIDE)), NUMERIC)
    except pa.ArrowInvalid as exc:
        raise TerminalError("PROVIDER_BAD_DATA", f"a sum does not fit NUMERIC: {exc}") from None


def field(struct: pa.Array, name: str) -> pa.Array:
    """A struct's child, null where the struct itself is null."""
    return pc.struct_field(struct, name)


def constant(value, type_: pa.DataType, length: int) -> pa.Array:
    """`value` repeated `length` times."""
    return pa.repeat(pa.scalar(value, type_), length)


def map_values(values: pa.Array, function: Callable, type_: pa.DataType) -> pa.Array:
    """function(v) for every v, computed once per distinct value (None included) and spread with `take`."""
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist() + [None]
    mapped = pa.array([function(value) for value in distinct], type_)
    indices = encoded.indices.fill_null(len(distinct) - 1)
    return mapped.take(indices)


def row_numbers(length: int) -> pa.Array:
    """0, 1, ..., length - 1 as int64."""
    return pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), length)), 1)


def flat_parents(lists: pa.Array) -> tuple[pa.Array, pa.Array]:
    """A list column's items, flattened, and for each item the index (int64) of the row it belongs to."""
    return pc.list_flatten(lists), pc.cast(pc.list_parent_indices(lists), pa.int64())


def per_row_sum(length: int, parents: pa.Array, values: pa.Array, keep: pa.Array | None = None) -> pa.Array:
    """Per row, the NUMERIC sum of its items' `values` (only items where `keep`); 0 for a row with none."""
    if keep is not None:
        parents, values = parents.filter(keep), values.filter(keep)
    sums = pa.table({"row": parents, "value": values}).group_by("row").aggregate([("value", "sum")])
    # For every row, where its sum is (a hash lookup), or past the end: the appended zero.
    found = pc.index_in(row_numbers(length), value_set=sums["row"].combine_chunks())
    zero = pa.array([Decimal(0)], NUMERIC)
    values = pa.concat_arrays([sums["value_sum"].combine_chunks().cast(NUMERIC), zero])
    return values.take(pc.fill_null(found, sums.num_rows))


def _signature(lists: pa.Array) -> pa.Array:
    """Per row, its key/value items as one exact string (unit and record separators: never in GCP labels)."""
    items, _ = flat_parents(lists)
    pairs = pc.binary_join_element_wise(
        field(items, "key"), field(items, "value"), "\x1f", null_handling="replace"
    )
    offsets = pc.subtract(lists.offsets, lists.offsets[0])
    return pc.binary_join(pa.ListArray.from_arrays(offsets, pairs, mask=lists.is_null()), "\x1e")


def _merged_json(*label_lists: list) -> str:
    merged: dict = {}
    for items in label_lists:
        for item in items or ():
            if item["key"] is not None:
                merged.setdefault(item["key"], item["value"])  # the first list holding a key wins it
    # Characters as they are (no \u escapes): the text BigQuery's TO_JSON_STRING gives (granted mode's Tags).
    return json.dumps(merged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_objects(*label_lists: pa.Array) -> pa.Array:
    """Per row, a JSON object of the key/value items of `label_lists`; the first list holding a key wins it.

    Label sets repeat across rows, so the JSON is built once per distinct combination (found by hashing an exact
    signature of each row's items) and spread with `take`. Keys are sorted so equal sets give equal text.
    """
    signature = pc.binary_join_element_wise(*map(_signature, label_lists), "\x1d", null_handling="replace")
    codes = pc.dictionary_encode(signature).indices  # 0 .. distinct - 1, in order of first appearance
    rows = pa.table({"code": codes, "row": row_numbers(len(codes))})
    first = rows.group_by("code").aggregate([("row", "min")]).sort_by("code")["row_min"]
    samples = [lists.take(first).to_pylist() for lists in label_lists]
    texts = pa.array([_merged_json(*combination) for combination in zip(*samples)], pa.string())
    return texts.take(codes)
