"""GCP billing, no I/O: the export table id and key checks, the look-back window, what changed, the source SQL."""

import json
from datetime import UTC, date, datetime

import pytest

from shared.platform.errors import TerminalError
from shared.providers.gcp import constants as gcp
from shared.providers.gcp.incremental import changed_partitions, load_window, partition_groups
from shared.providers.gcp.source import _job_config, parse_export_table, service_account_info
from shared.providers.gcp.sql import date_ranges, partition_filter, source_select_list

TABLE = "acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
KEY = {
    "type": "service_account",
    "project_id": "acme-billing",
    "client_email": "r@acme-billing.iam.gserviceaccount.com",
    "private_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
}


def test_standard_and_detailed_export_ids_parse():
    standard = parse_export_table(TABLE)
    assert (standard.project, standard.dataset, standard.detailed, standard.id) == (
        "acme-billing",
        "billing_export",
        False,
        TABLE,
    )
    assert parse_export_table(TABLE.replace("export_v1", "export_resource_v1")).detailed


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        "",
        TABLE + " ",
        " " + TABLE,
        f"`{TABLE}`",
        TABLE + "`; DROP TABLE x; --",
        "acme-billing.billing_export.some_other_table",
        "acme-billing.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9",
        TABLE.replace("01A2B3", "01a2b3"),
        TABLE.replace("acme-billing", "Acme-Billing"),
        TABLE.replace("acme-billing", "ab"),
        TABLE.replace("billing_export", "billing-export"),
        TABLE.replace("billing_export", "a.b"),
        "example.com:acme-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9",
        TABLE + "\n",
        TABLE.replace(".", "`.`"),
        TABLE + " OR 1=1",
    ],
)
def test_anything_but_an_exact_export_id_is_refused(value):
    with pytest.raises(TerminalError) as caught:
        parse_export_table(value)
    assert caught.value.code == "INVALID_BILLING_EXPORT_TABLE"


def test_a_service_account_key_is_recognised_and_anything_else_refused_without_echo():
    assert service_account_info(json.dumps(KEY))["project_id"] == "acme-billing"
    for secret in (
        "sk-admin-not-a-key",
        json.dumps({**KEY, "type": "authorized_user"}),
        json.dumps({k: v for k, v in KEY.items() if k != "private_key"}),
        "[]",
    ):
        with pytest.raises(TerminalError) as caught:
            service_account_info(secret)
        assert caught.value.code == "PROVIDER_AUTH_FAILED" and secret not in caught.value.message


@pytest.mark.parametrize(
    ("start", "end", "first"),
    [
        (date(2025, 11, 10), date(2025, 11, 12), date(2025, 11, 7)),  # mid-month: the look-back only
        (
            date(2025, 11, 3),
            date(2025, 11, 4),
            date(2025, 10, 1),
        ),  # early in a month: all of the previous month
        (date(2025, 12, 20), date(2026, 1, 2), date(2025, 12, 1)),  # across a year
        (date(2025, 11, 6), date(2025, 11, 6), date(2025, 11, 3)),  # the 6th: the invoice has closed
    ],
)
def test_load_window(start, end, first):
    assert load_window(start, end) == (first, end)


def test_changed_partitions_compare_export_time_rows_and_table():
    t1, t2 = datetime(2025, 11, 4, 9, tzinfo=UTC), datetime(2025, 11, 5, 9, tzinfo=UTC)
    source = {date(2025, 11, d): (t1, 10) for d in range(1, 6)}
    source[date(2025, 11, 2)] = (t2, 10)  # late rows: a newer export_time
    source[date(2025, 11, 3)] = (t1, 11)  # a row appended with an old export_time
    loaded = {date(2025, 11, d): (TABLE, t1, 10) for d in range(1, 5)}
    loaded[date(2025, 11, 4)] = ("other.table.id", t1, 10)  # the credential now names another export
    loaded[date(2025, 10, 31)] = (TABLE, t1, 3)  # gone from the source: its rows must be deleted
    loaded[date(2025, 10, 30)] = (TABLE, None, 0)  # empty before and now: nothing to do
    assert changed_partitions(source, loaded, TABLE) == [
        date(2025, 10, 31),
        date(2025, 11, 2),
        date(2025, 11, 3),
        date(2025, 11, 4),
        date(2025, 11, 5),
    ]
    assert changed_partitions(source, loaded, TABLE, force=True)[-5:] == sorted(source)
    assert changed_partitions(source, {p: (TABLE, *s) for p, s in source.items()}, TABLE) == []


def test_partition_groups_bound_the_rows_per_source_query():
    days = [date(2025, 11, d) for d in range(1, 6)]
    stats = dict(zip(days, [(None, 100), (None, 300), (None, 50), (None, 50), (None, 900)]))
    assert partition_groups(days, stats, 400) == [days[0:2], days[2:4], days[4:5]]
    assert partition_groups([], stats, 400) == []


def test_partitions_become_pruning_ranges_of_partitiontime():
    days = [date(2025, 11, 5), date(2025, 11, 1), date(2025, 11, 2), date(2025, 11, 3)]
    assert date_ranges(days) == [
        (date(2025, 11, 1), date(2025, 11, 3)),
        (date(2025, 11, 5), date(2025, 11, 5)),
    ]
    where, params = partition_filter(days)
    assert where.count("_PARTITIONTIME >= TIMESTAMP(@p") == 2 and " OR " in where
    assert params == {
        "p0_first": date(2025, 11, 1),
        "p0_last": date(2025, 11, 3),
        "p1_first": date(2025, 11, 5),
        "p1_last": date(2025, 11, 5),
    }
    assert partition_filter([]) == ("FALSE", {})


def test_source_queries_cap_bytes_billed_and_skip_the_cache():
    config = _job_config({"first": date(2025, 11, 1)})
    assert config.maximum_bytes_billed == gcp.MAX_BYTES_BILLED and config.use_query_cache is False
    assert [p.name for p in config.query_parameters] == ["first"]


def test_a_standard_export_reads_the_detailed_columns_as_typed_nulls():
    select = source_select_list({"billing_account_id", "cost", "credits"})
    assert select.startswith("DATE(_PARTITIONTIME) AS partition_date")
    assert "CAST(NULL AS STRUCT<name STRING, global_name STRING>) AS resource" in select
    assert "CAST(NULL AS FLOAT64) AS cost_at_list" in select and ", cost," in select
    # Exports from before spend-based CUDs' new data model, and without Resource Manager tags.
    assert "CAST(NULL AS STRUCT<id STRING, description STRING>) AS consumption_model" in select
    assert "CAST(NULL AS FLOAT64) AS cost_at_effective_price_default" in select
    assert (
        "CAST(NULL AS ARRAY<STRUCT<key STRING, value STRING, inherited BOOL, namespace STRING>>) AS tags"
        in select
    )
