"""Golden: a restated AWS billing period. October 2025 is delivered (gzip CSV) by execution A, loaded; AWS then
restates it (execution B, other files, one amount changed and a credit added): the period is reloaded whole from
B, its totals are B's exactly and nothing of A is left (no double count); a re-run without change loads nothing;
a forced re-run and a fanned-out load (two day slices) leave the same rows. Real clients: boto3 on the S3
stand-in, the BigQuery stand-in."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from devstack.providers.aws.delivery import rows_table, write_delivery
from devstack.standins.s3 import S3_STANDIN
from shared.platform.settings import settings_from_env
from shared.providers.aws.steps import load_data_export
from shared.warehouse.datasets import ensure_org_dataset
from tests.kit.steps import step_context
from tests.kit.warehouse_standin import PROJECT

METADATA = {
    "bucket": "golden-exports",
    "prefix": "cur",
    "export_name": "golden-focus",
    "region": "eu-west-1",
    "role_arn": "arn:aws:iam::111122223333:role/dps-golden-reader",
}
OCTOBER = date(2025, 10, 1)


def _row(day: int, service: str, billed: float, effective: float, category: str = "Usage", **extra) -> dict:
    start = datetime(2025, 10, day)
    return {
        "BillingAccountId": "111122223333", "BillingCurrency": "USD", "SubAccountId": "210987654321",
        "BillingPeriodStart": datetime(2025, 10, 1), "BillingPeriodEnd": datetime(2025, 11, 1),
        "ChargePeriodStart": start, "ChargePeriodEnd": start.replace(hour=1), "ChargeCategory": category,
        "ChargeFrequency": "Usage-Based" if category == "Usage" else "One-Time", "ServiceName": service,
        "BilledCost": billed, "EffectiveCost": effective, "ListCost": billed, "ContractedCost": billed,
        "ProviderName": "AWS", "PublisherName": "AWS", "InvoiceIssuerName": "AWS", **extra,
    }  # fmt: skip


EC2, S3, RDS = (
    "Amazon Elastic Compute Cloud",
    "Amazon Simple Storage Service",
    "Amazon Relational Database Service",
)
RI = {
    "CommitmentDiscountId": "arn:aws:rds:eu-west-1:210987654321:ri:golden",
    "CommitmentDiscountCategory": "Usage",
}
COMMON = [
    _row(1, S3, 0.1 + 0.2, 0.1 + 0.2),  # the double 0.30000000000000004: 0.300000000 as NUMERIC
    _row(2, RDS, 0.0, 3.408, **RI, CommitmentDiscountStatus="Used"),  # covered: billed by the fee below
    _row(
        2, RDS, 6.816, 0.0, "Purchase", **RI
    ),  # the reservation's fee, amortised onto the usage (Effective 0)
    _row(15, EC2, 1.23, 1.23, "Tax"),
]
# Execution A: EC2 on Oct 1 at 10.25.   Billed 10.25 + 0.3 + 0 + 6.816 + 1.23 = 18.596
#                                        Effective 10.25 + 0.3 + 3.408 + 0 + 1.23 = 15.188
DELIVERY_A = [[_row(1, EC2, 10.25, 10.25), *COMMON]]
# Execution B restates EC2 on Oct 1 to 11.75 and adds a credit of -5.5 on Oct 20, in two files:
#   Billed 11.75 + 0.3 + 0 + 6.816 + 1.23 - 5.5 = 14.596;  Effective 11.75 + 0.3 + 3.408 + 0 + 1.23 - 5.5 = 11.188
DELIVERY_B = [[_row(1, EC2, 11.75, 11.75), COMMON[0]], [*COMMON[1:], _row(20, EC2, -5.5, -5.5, "Credit")]]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The S3 stand-in (moto) for the module."""
    from devstack.processes import free_port

    port = free_port()
    server = S3_STANDIN.launch(tmp_path_factory.mktemp("golden-s3"), port)
    try:
        server.wait_ready()
        yield S3_STANDIN.url(port)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def world(bigquery_standin, s3):
    """Settings, warehouse and an S3 client on the stand-ins."""
    from shared.platform.clients import make_bigquery_client, make_bigquery_write_client
    from shared.providers.aws.s3 import s3_client
    from shared.warehouse.adapter import Warehouse

    settings = settings_from_env(
        {
            "GCP_PROJECT_ID": PROJECT,
            "ENVIRONMENT": "local",
            "KMS_KEY_NAME": f"projects/{PROJECT}/locations/global/keyRings/dps/cryptoKeys/credentials",
            "BIGQUERY_API_ENDPOINT": bigquery_standin.url,
            "BIGQUERY_STORAGE_API_ENDPOINT": bigquery_standin.grpc_address,
            "AWS_STORAGE_ENDPOINT": s3,
        }
    )
    warehouse = Warehouse(
        make_bigquery_client(settings), PROJECT, write_client=make_bigquery_write_client(settings)
    )
    client = s3_client(METADATA, settings, 10.0, "dps-golden")
    client.create_bucket(
        Bucket=METADATA["bucket"], CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return settings, warehouse, client


def _deliver(client, files: list[list[dict]], execution: str) -> None:
    write_delivery(
        client, METADATA["bucket"], METADATA["prefix"], METADATA["export_name"], OCTOBER,
        [rows_table(rows) for rows in files], execution_id=execution, fmt="csv", rows_per_file=1,
    )  # fmt: skip


def _run(world, slug: str, start: date, end: date, **options) -> int:
    settings, warehouse, _ = world
    ctx = step_context("aws", start, end, "", metadata=METADATA, settings=settings, org_slug=slug,
                       destination_table="aws_cost_export", **options)  # fmt: skip
    return load_data_export(ctx, warehouse)


def _totals(world, slug: str) -> tuple:
    settings, warehouse, _ = world
    dataset = settings.org_dataset(slug)
    [focus] = warehouse.query(
        f"SELECT COUNT(*) AS n, SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective, "
        f"COUNT(DISTINCT x_pipeline_logging_id) AS runs FROM `{warehouse.table_id(dataset, 'cost_focus')}` "
        f"WHERE ProviderName = 'AWS'"
    )
    [raw] = warehouse.query(
        f"SELECT COUNT(*) AS n, SUM(BilledCost) AS billed, COUNT(DISTINCT x_delivery_id) AS deliveries "
        f"FROM `{warehouse.table_id(dataset, 'aws_cost_export')}`"
    )
    return focus["n"], focus["billed"], focus["effective"], raw["n"], raw["billed"], raw["deliveries"]


def test_a_restated_period_is_reloaded_whole_and_never_double_counted(world):
    settings, warehouse, client = world
    ensure_org_dataset(settings, warehouse, "golden_aws_restated", "aws")
    _deliver(client, DELIVERY_A, "exec-a")
    # A run for Oct 20 widens to the whole period (and September, which has no delivery).
    assert _run(world, "golden_aws_restated", date(2025, 10, 20), date(2025, 10, 20), run_id="run-a") == 10
    assert _totals(world, "golden_aws_restated") == (
        5,
        Decimal("18.596"),
        Decimal("15.188"),
        5,
        Decimal("18.596"),
        1,
    )

    assert _run(world, "golden_aws_restated", date(2025, 10, 20), date(2025, 10, 20), run_id="run-a2") == 0

    _deliver(client, DELIVERY_B, "exec-b")  # A's files stay in S3; only the manifest's files count
    assert _run(world, "golden_aws_restated", date(2025, 10, 20), date(2025, 10, 20), run_id="run-b") == 12
    after_b = _totals(world, "golden_aws_restated")
    assert after_b == (6, Decimal("14.596"), Decimal("11.188"), 6, Decimal("14.596"), 1)

    assert _run(world, "golden_aws_restated", date(2025, 10, 20), date(2025, 10, 20), run_id="run-b2") == 0
    assert _run(world, "golden_aws_restated", date(2025, 10, 1), date(2025, 10, 31), run_id="run-force",
                force_refresh=True) == 12  # fmt: skip
    assert _totals(world, "golden_aws_restated")[:-1] == after_b[:-1]


def test_day_slices_of_a_period_load_what_one_run_loads(world):
    """The control plane's fan-out: each slice (exact_window) loads its own days of the same delivery."""
    settings, warehouse, client = world
    ensure_org_dataset(settings, warehouse, "golden_aws_sliced", "aws")
    _deliver(client, DELIVERY_B, "exec-b")
    first = _run(world, "golden_aws_sliced", date(2025, 10, 1), date(2025, 10, 8), exact_window=True)
    second = _run(world, "golden_aws_sliced", date(2025, 10, 9), date(2025, 10, 31), exact_window=True)
    assert (first, second) == (8, 4)  # Oct 1-2: 4 rows (raw + FOCUS each); Oct 15 and 20: 2 rows
    assert _totals(world, "golden_aws_sliced")[:5] == (
        6,
        Decimal("14.596"),
        Decimal("11.188"),
        6,
        Decimal("14.596"),
    )
    assert _run(world, "golden_aws_sliced", date(2025, 10, 1), date(2025, 10, 8), exact_window=True) == 0


NOVEMBER = date(2025, 11, 1)


def _november(row: dict, month: int = 11, day: int | None = None) -> dict:
    """A row of November's bill, charged on `day` of `month` (a refund on it may be dated in October)."""
    start = row["ChargePeriodStart"].replace(month=month, day=day or row["ChargePeriodStart"].day)
    period = {"BillingPeriodStart": datetime(2025, 11, 1), "BillingPeriodEnd": datetime(2025, 12, 1)}
    return {**row, **period, "ChargePeriodStart": start, "ChargePeriodEnd": start.replace(hour=1)}


# November's bill: EC2 on Nov 3 at 4.00, and a refund of October's EC2 dated Oct 31 (outside the period) of -2.50.
#   Billed 4.00 - 2.50 = 1.50. Restated: the refund becomes -3.00 -> Billed 1.00.
NOV_A = [[_november(_row(3, EC2, 4.0, 4.0)), _november(_row(31, EC2, -2.5, -2.5, "Credit"), month=10)]]
NOV_B = [[_november(_row(3, EC2, 4.0, 4.0)), _november(_row(31, EC2, -3.0, -3.0, "Credit"), month=10)]]


def test_a_periods_rows_dated_before_it_load_with_it_after_that_month_left_the_window(world):
    """A run on Nov 20 loads November only (October is past its two weeks), yet November's refund of October
    usage is on November's bill: it is loaded, and restated, with November's first day (whichever slice has it)."""
    settings, warehouse, client = world
    slug = "golden_aws_outside"
    ensure_org_dataset(settings, warehouse, slug, "aws")

    def deliver(files, execution):
        write_delivery(
            client, METADATA["bucket"], METADATA["prefix"], METADATA["export_name"], NOVEMBER,
            [rows_table(rows) for rows in files], execution_id=execution, fmt="csv", rows_per_file=1,
        )  # fmt: skip

    deliver(NOV_A, "exec-nov-a")
    # The slice without Nov 1 leaves the October-dated refund to the slice that has it.
    assert _run(world, slug, date(2025, 11, 9), date(2025, 11, 30), exact_window=True) == 0
    assert _run(world, slug, date(2025, 11, 1), date(2025, 11, 8), exact_window=True) == 4  # 2 raw + 2 FOCUS
    assert _totals(world, slug)[:5] == (2, Decimal("1.5"), Decimal("1.5"), 2, Decimal("1.5"))

    deliver(NOV_B, "exec-nov-b")  # the refund restated: the old one goes, the new one comes, once
    assert _run(world, slug, date(2025, 11, 20), date(2025, 11, 20), run_id="run-nov-b") == 4
    assert _totals(world, slug)[:5] == (2, Decimal(1), Decimal(1), 2, Decimal(1))
    assert _run(world, slug, date(2025, 11, 20), date(2025, 11, 20), run_id="run-nov-b2") == 0
