"""Synthetic GCP Cloud Billing export (standard or detailed): deterministic, vectorised, realistically shaped."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from devstack.providers.gcp import catalogue as cat

PACIFIC = ZoneInfo("America/Los_Angeles")
HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class ExportSpec:
    """What to generate: usage days, volume, randomness, and which rows arrive late."""

    start: date
    days: int
    rows_per_day: int = 400
    seed: int = 7
    detailed: bool = True
    late_fraction: float = 0.03  # rows exported 1-3 days after their usage (still in their usage partition)
    exported_at: datetime | None = None  # every row's export_time (appending a late batch); None: realistic
    with_fixed_rows: bool = True  # tax, adjustment and rounding rows besides usage
    as_of: datetime | None = None  # rows exported after this instant have not arrived yet: left out


def _rng(spec: ExportSpec):
    import numpy as np

    # Seeded by the day, not the range: a usage day has the same rows in every export that covers it.
    return np.random.default_rng([spec.seed, spec.start.toordinal(), spec.rows_per_day])


def _usage_rows(spec: ExportSpec, rng) -> dict:
    """Column arrays (numpy) of the regular usage rows: which SKU, project, hour, how much."""
    import numpy as np

    n = spec.rows_per_day * spec.days
    skus = cat.sku_table()
    sku = rng.choice(len(skus["weight"]), size=n, p=skus["weight"] / skus["weight"].sum())
    project = rng.choice(len(cat.PROJECTS), size=n, p=cat.PROJECT_WEIGHTS)
    day = np.repeat(np.arange(spec.days), spec.rows_per_day)
    hour = rng.integers(0, 24, size=n)
    # Log-normal quantities: many small rows, a few large ones, as in real exports.
    pricing_qty = np.round(skus["typical_qty"][sku] * rng.lognormal(0.0, 0.9, size=n), 6)
    cost_usd_micros = np.maximum(np.round(pricing_qty * skus["price_micros"][sku]).astype(np.int64), 0)
    list_micros = np.round(cost_usd_micros * (1 + skus["list_markup"][sku])).astype(np.int64)
    return {
        "n": n,
        "sku": sku,
        "project": project,
        "day": day,
        "hour": hour,
        "pricing_qty": pricing_qty,
        "usage_qty": pricing_qty * skus["unit_factor"][sku],
        "cost_usd": cost_usd_micros,
        "list_usd": list_micros,
        "cost_type": np.zeros(n, dtype=np.int64),
        "covered": np.zeros(n, dtype=bool),
        "offset_usd": np.zeros(n, dtype=np.int64),
    }


def _credits(rng, rows: dict):
    """Per row up to two credits, negative micros in the row's cost, then a CUD fee's utilisation offset:
    (offsets, amounts, kinds). Usage a CUD covers gets no other discount (it is already at the CUD's price)."""
    import numpy as np

    skus = cat.sku_table()
    n, cost = rows["n"], rows["cost"]
    regular = (rows["cost_type"] == cat.COST_TYPES.index("regular")) & ~rows["covered"]
    first = regular & (rng.random(n) < skus["credit_rate"][rows["sku"]])
    second = first & (rng.random(n) < 0.25)
    kind1 = np.where(skus["credit_kind"][rows["sku"]] >= 0, skus["credit_kind"][rows["sku"]], 0)
    kind2 = rng.choice([cat.CREDIT_KINDS.index("PROMOTION"), cat.CREDIT_KINDS.index("DISCOUNT")], size=n)
    share1 = rng.uniform(0.05, 0.35, size=n)
    share2 = rng.uniform(0.01, 0.10, size=n)
    amount1 = -np.round(cost * share1).astype(np.int64)
    amount2 = -np.round(cost * share2).astype(np.int64)
    third = rows["offset"] != 0
    counts = first.astype(np.int64) + second.astype(np.int64) + third.astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    amounts = np.zeros(offsets[-1], dtype=np.int64)
    kinds = np.zeros(offsets[-1], dtype=np.int64)
    amounts[offsets[:-1][first]] = amount1[first]
    kinds[offsets[:-1][first]] = kind1[first]
    amounts[offsets[:-1][second] + 1] = amount2[second]
    kinds[offsets[:-1][second] + 1] = kind2[second]
    last = offsets[1:][third] - 1  # the offset is a fee row's only credit
    amounts[last] = rows["offset"][third]
    kinds[last] = cat.CREDIT_KINDS.index("FEE_UTILIZATION_OFFSET")
    return offsets, amounts, kinds


def generate_export(spec: ExportSpec):
    """The export rows of `spec` as a pyarrow Table in the export's schema (with the stand-in _PARTITIONTIME)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    days = [
        _generate_day(replace(spec, start=spec.start + timedelta(days=i), days=1)) for i in range(spec.days)
    ]
    table = pa.concat_tables(days)
    if spec.as_of is not None:
        table = table.filter(pc.less_equal(table["export_time"], spec.as_of.astimezone(UTC)))
    order = pc.sort_indices(table, [("_PARTITIONTIME", "ascending"), ("usage_start_time", "ascending")])
    return table.take(order)


def _generate_day(spec: ExportSpec):
    from devstack.providers.gcp.export_arrow import build_table

    rng = _rng(spec)
    rows = _usage_rows(spec, rng)
    if spec.with_fixed_rows:
        rows = cat.append_fixed_rows(rows, spec, rng)
        rows = cat.append_commitment_rows(rows, spec, rng)
    else:
        rows = dict(rows, default_usd=rows["cost_usd"])
    rows = _in_billing_currency(rows)
    credits = _credits(rng, rows)
    return build_table(spec, rows, credits, _times(spec, rng, rows))


def _in_billing_currency(rows: dict) -> dict:
    """Costs converted from USD into each row's billing-account currency (micros, rounded)."""
    import numpy as np

    rate = np.array([cat.ACCOUNTS[p[4]][2] for p in cat.PROJECTS])[rows["project"]]
    rows = dict(rows, rate=rate)
    rows["cost"] = np.round(rows["cost_usd"] * rate).astype(np.int64)
    rows["list"] = np.round(rows["list_usd"] * rate).astype(np.int64)
    rows["default"] = np.round(rows["default_usd"] * rate).astype(np.int64)
    rows["offset"] = np.round(rows["offset_usd"] * rate).astype(np.int64)
    return rows


def _times(spec: ExportSpec, rng, rows: dict) -> dict:
    """Usage windows, export times and partitions (microseconds since the epoch, UTC)."""
    import numpy as np

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    day0 = int((datetime.combine(spec.start, datetime.min.time(), UTC) - epoch).total_seconds() * 1_000_000)
    start = day0 + rows["day"] * 24 * HOUR_US + rows["hour"] * HOUR_US
    length = np.where(rows["cost_type"] == cat.COST_TYPES.index("regular"), HOUR_US, 24 * HOUR_US)
    end = start + length
    if spec.exported_at is not None:
        stamp = int((spec.exported_at.astimezone(UTC) - epoch).total_seconds() * 1_000_000)
        export = np.full(rows["n"], stamp, dtype=np.int64)
    else:
        delay = rng.integers(2 * HOUR_US, 10 * HOUR_US, size=rows["n"])
        late = rng.random(rows["n"]) < spec.late_fraction
        # Corrections are issued days after the usage they correct; some usage rows also arrive days late.
        late |= rows["cost_type"] == cat.COST_TYPES.index("adjustment")
        delay = np.where(late, delay + rng.integers(1, 4, size=rows["n"]) * 24 * HOUR_US, delay)
        export = end + delay
    return {"start": start, "end": end, "export": export, "partition": pacific_partition(start)}


def pacific_partition(start_us):
    """The export partition of each usage start: its Pacific-time date, as UTC midnight (like _PARTITIONTIME)."""
    import numpy as np

    # Pacific time is UTC-8 or UTC-7; the per-row offset comes from the zone database, by day, for DST.
    days = start_us // (24 * HOUR_US)
    unique_days = np.unique(days)
    offsets = {}
    for d in unique_days.tolist():
        noon = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=d, hours=12)
        offsets[d] = int(noon.astimezone(PACIFIC).utcoffset().total_seconds() * 1_000_000)
    offset = np.vectorize(offsets.__getitem__, otypes=[np.int64])(days)
    local_day = (start_us + offset) // (24 * HOUR_US)
    return local_day * 24 * HOUR_US


def write_export(client, table_id: str, table, replace: bool = False) -> int:
    """Write generated rows into the stand-in export table (created if missing); returns the rows written."""
    from devstack.providers.gcp.export_arrow import write_to_bigquery

    return write_to_bigquery(client, table_id, table, replace)


# The demo's export lives in a project of its own, as a customer's does: a run refuses an export table in the
# service's project unless it is in the org's own dataset.
DEMO_PROJECT = "customer-billing"
DEMO_DATASET = "billing_export"
DEMO_TABLE = "gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9"


def ensure_demo_export(client, project: str, first: date, last: date, rows_per_day: int = 300) -> str:
    """(Re)write the demo org's synthetic export for usage days first..last, as it stands now; returns its id.

    Deterministic for a given `now`: rows not yet exported by now are left out (they "arrive" on a later run).
    """
    from google.cloud import bigquery

    client.create_dataset(bigquery.Dataset(f"{project}.{DEMO_DATASET}"), exists_ok=True)
    table_id = f"{project}.{DEMO_DATASET}.{DEMO_TABLE}"
    spec = ExportSpec(
        start=first, days=(last - first).days + 1, rows_per_day=rows_per_day, as_of=datetime.now(UTC)
    )
    write_export(client, table_id, generate_export(spec), replace=True)
    return table_id


def demo_service_account_key(project: str, key_id: str) -> str:
    """A service-account key shaped like Google's JSON (the local stack never signs with it: anonymous there)."""
    import json

    return json.dumps(
        {
            "type": "service_account",
            "project_id": project,
            "private_key_id": key_id,
            "private_key": "-----BEGIN PRIVATE KEY-----\nlocal-stand-in-not-a-key\n-----END PRIVATE KEY-----\n",
            "client_email": f"billing-reader@{project}.iam.gserviceaccount.com",
            "client_id": "000000000000000000000",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def demo_credential(stack, settings):
    """Rewrite the demo export (the 12 days before today, as exported by now) and return the credential naming
    it: a service-account key shaped like Google's and the export table."""
    from devstack.providers.local import DemoCredential
    from shared.platform.clients import make_bigquery_client

    last = datetime.now(UTC).date() - timedelta(days=1)
    table_id = ensure_demo_export(
        make_bigquery_client(settings), DEMO_PROJECT, last - timedelta(days=11), last
    )
    key = demo_service_account_key(stack.project, stack.secret("sandbox_gcp_key_id"))
    return DemoCredential(key, {"billing_export_table": table_id})
