"""Turn the generator's column arrays into an Arrow table of the export's schema, and write it to BigQuery."""

from __future__ import annotations

import functools
import io
import uuid

from devstack.providers.gcp import catalogue as cat
from shared.platform.settings import DEFAULT_CONFIG_DIR

EXPORT_SCHEMA = "gcp_billing_export_resource_v1"
DETAILED_ONLY = ("resource", "price")
LABEL_SETS = (
    (),
    (("app", "web"),),
    (("app", "api"), ("component", "backend")),
    (("app", "batch"), ("schedule", "nightly")),
    (("app", "web"), ("release", "canary")),
)
MACHINE_LABELS = (
    ("compute.googleapis.com/machine_spec", "n2-standard-4"),
    ("compute.googleapis.com/cores", "4"),
)


def _a(values, type_=None):
    """pa.array, always one contiguous Array (large numpy string arrays otherwise come back chunked)."""
    import pyarrow as pa

    array = pa.array(values, type_)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def export_spec(detailed: bool = True):
    """The export's TableSpec (configs/schemas/sources), without the detailed-only columns for a standard one."""
    from dataclasses import replace

    from shared.warehouse.schemas import load_table_specs

    spec = load_table_specs(DEFAULT_CONFIG_DIR, "sources")[EXPORT_SCHEMA]
    if detailed:
        return spec
    return replace(spec, columns=tuple(c for c in spec.columns if c.name not in DETAILED_ONLY))


def _pairs(pairs) -> list[dict]:
    return [{"key": k, "value": v} for k, v in pairs]


@functools.cache
def _dimensions():
    """Small per-SKU and per-project Arrow arrays that rows pick from with `take` (no per-row Python)."""
    import pyarrow as pa

    skus = cat.skus()
    service = _a([{"id": s[0], "description": s[1]} for s in skus])
    sku = _a([{"id": s[3], "description": s[4]} for s in skus])
    projects = _a(
        [
            {
                "id": p[0],
                "number": p[1],
                "name": p[2],
                "labels": _pairs(p[3].items()),
                "ancestry_numbers": cat.ANCESTRY,
            }
            for p in cat.PROJECTS
        ]
    )
    labels = _a(
        [_pairs(s) for s in LABEL_SETS], pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
    )
    return service, sku, projects, labels


@functools.cache
def _project_tags():
    """Each project's Resource Manager tags as the export's list of {key, value, inherited, namespace}."""
    import pyarrow as pa

    item = pa.struct(
        [("key", pa.string()), ("value", pa.string()), ("inherited", pa.bool_()), ("namespace", pa.string())]
    )
    tags = [[dict(zip(("key", "value", "inherited", "namespace"), t)) for t in p] for p in cat.PROJECT_TAGS]
    return _a(tags, pa.list_(item))


def _location(rows: dict, zone_pick):
    import numpy as np
    import pyarrow as pa

    is_global = np.array([s[2] for s in cat.skus()])[rows["sku"]]
    region = np.array([p[5] for p in cat.PROJECTS], dtype=object)[rows["project"]]
    zone = np.where(zone_pick, np.array([p[6][0] for p in cat.PROJECTS], dtype=object)[rows["project"]], None)
    country = np.where(np.char.startswith(region.astype(str), "europe"), "BE", "US")
    return pa.StructArray.from_arrays(
        [
            _a(np.where(is_global, "global", region)),
            _a(np.where(is_global, None, country)),
            _a(np.where(is_global, None, region)),
            _a(np.where(is_global, None, zone)),
        ],
        names=["location", "country", "region", "zone"],
    )


def _credits_array(credits):
    import numpy as np
    import pyarrow as pa

    offsets, amounts, kinds = credits
    kind_names = np.array(cat.CREDIT_KINDS, dtype=object)[kinds]
    names = np.array([cat.CREDIT_NAMES[k] for k in cat.CREDIT_KINDS], dtype=object)[kinds]
    ids = np.char.add("credit-", kinds.astype(str))
    items = pa.StructArray.from_arrays(
        [
            _a(names, pa.string()),
            _a(amounts / 1e6),
            _a(names, pa.string()),
            _a(ids),
            _a(kind_names, pa.string()),
        ],
        names=["name", "amount", "full_name", "id", "type"],
    )
    return pa.ListArray.from_arrays(_a(offsets, pa.int32()), items)


def _usage(rows: dict):
    import numpy as np
    import pyarrow as pa

    skus = cat.skus()
    unit = np.array([s[5] for s in skus], dtype=object)[rows["sku"]]
    pricing_unit = np.array([s[6] for s in skus], dtype=object)[rows["sku"]]
    has_units = unit != None
    return pa.StructArray.from_arrays(
        [
            _a(np.where(has_units, rows["usage_qty"], 0.0)),
            _a(unit, pa.string()),
            _a(np.where(has_units, rows["pricing_qty"], 0.0)),
            _a(pricing_unit, pa.string()),
        ],
        names=["amount", "unit", "amount_in_pricing_units", "pricing_unit"],
    )


def _adjustment_info(rows: dict, day):
    import numpy as np
    import pyarrow as pa

    adjusted = rows["cost_type"] == cat.COST_TYPES.index("adjustment")
    ids = np.full(rows["n"], f"adj-{day.isoformat()}")
    struct = pa.StructArray.from_arrays(
        [
            _a(ids),
            _a(np.full(rows["n"], "Usage correction: N2 core overcharge")),
            _a(np.full(rows["n"], "PARTIAL_CORRECTION")),
            _a(np.full(rows["n"], "USAGE_CORRECTION")),
        ],
        names=["id", "description", "mode", "type"],
        mask=_a(~adjusted),
    )
    return struct


def _detailed(rows: dict, zone_pick):
    import numpy as np
    import pyarrow as pa

    skus = cat.skus()
    is_compute = np.array([s[0] == "6F81-5844-456A" and "PD" not in s[3] for s in skus])[rows["sku"]]
    project_ids = np.array([p[0] for p in cat.PROJECTS], dtype=object)[rows["project"]]
    name = np.char.add("vm-", (rows["hour"] % 6).astype(str))
    global_name = np.char.add(
        np.char.add("//compute.googleapis.com/projects/", project_ids.astype(str)),
        np.char.add("/instances/", name),
    )
    resource = pa.StructArray.from_arrays(
        [_a(name), _a(global_name)], names=["name", "global_name"], mask=_a(~is_compute)
    )
    price = np.array([f"{s[8]:.9f}" for s in skus], dtype=object)[rows["sku"]]
    units = np.array([s[6] for s in skus], dtype=object)[rows["sku"]]
    decimals = _a(price, pa.string()).cast(pa.decimal128(38, 9))
    zero, one = _a(np.zeros(rows["n"]), pa.float64()), _a(np.ones(rows["n"]), pa.float64())
    has_price = _a(units != None)
    return resource, pa.StructArray.from_arrays(
        [decimals, zero.cast(pa.decimal128(38, 9)), _a(units, pa.string()), one.cast(pa.decimal128(38, 9))],
        names=["effective_price", "tier_start_amount", "unit", "pricing_unit_quantity"],
        mask=pa.compute.invert(has_price),
    )


def build_table(spec, rows: dict, credits, times):
    """The export rows as a pyarrow Table in the export's column order and types."""
    import numpy as np
    import pyarrow as pa

    service, sku, projects, label_sets = _dimensions()
    rng = np.random.default_rng([spec.seed, spec.start.toordinal(), rows["n"]])
    regular = rows["cost_type"] == cat.COST_TYPES.index("regular")
    label_pick = np.where(regular, rng.integers(0, len(LABEL_SETS), size=rows["n"]), 0)
    zone_pick = rng.random(rows["n"]) < 0.6
    is_compute = np.array([s[0] == "6F81-5844-456A" for s in cat.skus()])[rows["sku"]]
    machine = _a([_pairs(()), _pairs(MACHINE_LABELS)])
    marketplace = np.array([s[0] == cat.MARKETPLACE_SERVICE for s in cat.skus()])[rows["sku"]]
    account = np.array([p[4] for p in cat.PROJECTS])[rows["project"]]
    ts = pa.timestamp("us", tz="UTC")
    month = np.datetime_as_string(times["partition"].astype("datetime64[us]").astype("datetime64[M]"))
    columns = {
        "billing_account_id": _a(np.array([a[0] for a in cat.ACCOUNTS], dtype=object)[account], pa.string()),
        "service": service.take(rows["sku"]),
        "sku": sku.take(rows["sku"]),
        "usage_start_time": _a(times["start"], ts),
        "usage_end_time": _a(times["end"], ts),
        "project": projects.take(rows["project"]),
        "labels": label_sets.take(label_pick),
        "system_labels": machine.take(is_compute.astype(np.int64)),
        "location": _location(rows, zone_pick),
        "export_time": _a(times["export"], ts),
        "cost": _a(rows["cost"] / 1e6),
        "currency": _a(np.array([a[1] for a in cat.ACCOUNTS], dtype=object)[account], pa.string()),
        "currency_conversion_rate": _a(rows["rate"].astype(np.float64)),
        "usage": _usage(rows),
        "credits": _credits_array(credits),
        "invoice": pa.StructArray.from_arrays([_a(np.char.replace(month, "-", ""))], names=["month"]),
        "cost_type": _a(np.array(cat.COST_TYPES, dtype=object)[rows["cost_type"]], pa.string()),
        "adjustment_info": _adjustment_info(rows, spec.start),
        "cost_at_list": _a(rows["list"] / 1e6),
        "transaction_type": _a(np.where(marketplace, "THIRD_PARTY_RESELLER", "GOOGLE"), pa.string()),
        "seller_name": _a(np.where(marketplace, cat.MARKETPLACE_SELLER, "Google"), pa.string()),
    }
    if spec.detailed:
        columns["resource"], columns["price"] = _detailed(rows, zone_pick)
    models = _a([{"id": i, "description": d} for i, d in cat.CONSUMPTION_MODELS])
    # Usage the flexible CUD covers and the CUD's own fee rows are of its consumption model; the rest default.
    cud_model = rows["covered"] | (rows["sku"] == cat.sku_index(cat.FLEX_FEE_SKU))
    columns["consumption_model"] = models.take(_a(cud_model.astype(np.int64)))
    columns["cost_at_effective_price_default"] = _a(rows["default"] / 1e6)
    columns["tags"] = _project_tags().take(_a(rows["project"]))
    columns["_PARTITIONTIME"] = _a(times["partition"], ts)
    return pa.table(columns)


def write_to_bigquery(client, table_id: str, table, replace: bool = False) -> int:
    """Create the stand-in export table if missing and append `table` (or replace its content)."""
    import pyarrow.parquet as pq
    from google.cloud import bigquery

    spec = export_spec(detailed="resource" in table.column_names)
    target = bigquery.Table(table_id, schema=spec.bigquery_schema())
    target.time_partitioning = bigquery.TimePartitioning(type_="DAY", field="_PARTITIONTIME")
    client.create_table(target, exists_ok=True)
    if replace:
        client.query_and_wait(f"DELETE FROM `{table_id}` WHERE TRUE")
    # The emulator refuses load jobs that write _PARTITIONTIME, but INSERT ... SELECT may set it.
    stage = f"{table_id}_stage_{uuid.uuid4().hex[:8]}"
    buffer = io.BytesIO()
    pq.write_table(table.rename_columns([*table.column_names[:-1], "partition_time"]), buffer)
    buffer.seek(0)
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
    )
    client.load_table_from_file(buffer, stage, job_config=config).result()
    names = ", ".join(f"`{name}`" for name in table.column_names[:-1])
    try:
        client.query_and_wait(
            f"INSERT INTO `{table_id}` ({names}, _PARTITIONTIME) SELECT {names}, partition_time FROM `{stage}`"
        )
    finally:
        client.delete_table(stage, not_found_ok=True)
    return table.num_rows
