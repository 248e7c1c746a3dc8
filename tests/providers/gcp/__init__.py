"""Google Cloud in the standard suite: a recorded billing export slice (usage, credits, tax, an adjustment of an
earlier partition, rounding, EUR beside USD, Marketplace) written into the warehouse as the customer's export
table, and the rows the pipeline writes for 2025-11-02..03 (its window reaches back to the adjustment)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from devstack.providers.gcp.export import demo_service_account_key
from shared.providers.gcp import PROVIDER
from tests.providers.case import ProviderCase

FOLDER = Path(__file__).parent
EXPORT_TABLE = "gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9"
KEY = demo_service_account_key("suite-project", "suite-key-0001")


def seed_export(warehouse, metadata: dict, settings=None) -> None:
    """Write the recorded slice as the customer's export table the credential names (replacing its rows)."""
    import pyarrow as pa

    from devstack.providers.gcp.export_arrow import export_spec, write_to_bigquery
    from shared.warehouse.arrow import arrow_schema

    schema = arrow_schema(export_spec(detailed=True))  # its last column is the stand-in's _PARTITIONTIME
    rows = []
    for row in json.loads((FOLDER / "pages" / "export_slice.json").read_text()):
        for key in ("usage_start_time", "usage_end_time", "export_time", "_PARTITIONTIME"):
            row[key] = datetime.fromisoformat(row[key])
        if row["price"]:
            row["price"] = {k: v if k == "unit" else Decimal(v) for k, v in row["price"].items()}
        rows.append(row)
    from google.cloud import bigquery

    table_id = metadata["billing_export_table"]
    dataset = table_id.rsplit(".", 1)[0]  # in the customer's project, not the service's
    warehouse.client.create_dataset(bigquery.Dataset(dataset), exists_ok=True)
    write_to_bigquery(warehouse.client, table_id, pa.Table.from_pylist(rows, schema=schema), replace=True)


CASE = ProviderCase(
    provider=PROVIDER,
    folder=FOLDER,
    pipeline_id="gcp/cost/billing",
    start=date(2025, 11, 2),
    end=date(2025, 11, 3),
    secret=KEY,
    metadata={"billing_export_table": f"suite-project.suite_billing_export.{EXPORT_TABLE}"},
    seed_source=seed_export,
    invalid_credentials=(
        (KEY, {"billing_export_table": "p.d.t` WHERE 1=1 --"}, "billing_export_table must be"),
        (
            "sk-not-a-key",
            {"billing_export_table": f"suite-project.billing.{EXPORT_TABLE}"},
            "service-account key",
        ),
        (KEY, {}, "billing_export_table must be"),
        # The service's own project (the suite's: suite-service) holds every org's data, and its central dataset.
        (KEY, {"billing_export_table": f"suite-service.organizations.{EXPORT_TABLE}"}, "central dataset"),
    ),
    secret_markers=(json.loads(KEY)["private_key"],),
)
