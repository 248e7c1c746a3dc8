"""Export values to the raw table's types: money exact from decimal text (rounded once, as BigQuery's CAST rounds),
instants in UTC whatever the export's spelling, unreadable values refused with the column's name."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from shared.platform.errors import TerminalError
from shared.providers.azure.convert import convert, utc_day
from shared.providers.azure.focus import canonical_tags


def test_decimal_text_becomes_numeric_exactly():
    text = pa.array(
        ["0.1", "1234567.123456789", "0.0000000005", "-0.0000000005", "1.5E-05", " 12 ", None, "0"]
    )
    assert convert(text, "NUMERIC", "BilledCost").to_pylist() == [
        Decimal("0.1"),
        Decimal("1234567.123456789"),
        Decimal("0.000000001"),  # half away from zero at the 10th decimal, as BigQuery's CAST
        Decimal("-0.000000001"),
        Decimal("0.000015"),
        Decimal(12),
        None,
        Decimal(0),
    ]
    # A sum of many text amounts is the exact decimal sum (no float drift).
    many = pa.array(["0.1"] * 1000)
    assert sum(convert(many, "NUMERIC", "BilledCost").to_pylist()) == Decimal(100)


def test_parquet_floats_and_decimals_become_numeric():
    assert convert(pa.array([0.1, 2.5]), "NUMERIC", "x").to_pylist() == [Decimal("0.1"), Decimal("2.5")]
    wide = pa.array([Decimal("1.0000000004999")], pa.decimal128(20, 13))
    assert convert(wide, "NUMERIC", "x").to_pylist() == [Decimal("1.000000000")]


def test_instants_in_every_spelling_are_utc():
    text = pa.array(
        ["2025-11-01T00:00:00Z", "2025-11-01T05:30:00.0000000Z", "2025-11-01", "2025-11-01 23:00:00"]
    )
    assert convert(text, "TIMESTAMP", "ChargePeriodStart").to_pylist() == [
        datetime(2025, 11, 1, tzinfo=UTC),
        datetime(2025, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2025, 11, 1, tzinfo=UTC),
        datetime(2025, 11, 1, 23, tzinfo=UTC),
    ]
    naive = pa.array([datetime(2025, 11, 2, 23, 59)], pa.timestamp("ms"))
    assert utc_day(naive, "ChargePeriodStart").to_pylist() == [date(2025, 11, 2)]


@pytest.mark.parametrize(
    ("values", "kind"), [(["12,50"], "NUMERIC"), (["yesterday"], "TIMESTAMP"), (["1.5"], "INT64")]
)
def test_an_unreadable_value_is_refused_naming_its_column(values, kind):
    with pytest.raises(TerminalError) as refused:
        convert(pa.array(values), kind, "SomeColumn")
    assert refused.value.code == "PROVIDER_BAD_DATA" and "SomeColumn" in refused.value.message


def test_tags_become_canonical_json_objects():
    assert canonical_tags('{"team": "data", "env": "prod"}') == '{"env":"prod","team":"data"}'
    assert canonical_tags('"env": "prod"') == '{"env":"prod"}'  # older files: no braces
    assert canonical_tags(None) == canonical_tags("") == "{}"
    assert canonical_tags("not json") == '{"x_unparsed_tags":"not json"}'


def test_a_row_without_what_focus_requires_is_refused_and_a_missing_optional_column_is_null():
    from devstack.providers.azure.export import rows_table, sample_rows
    from shared.platform.settings import DEFAULT_CONFIG_DIR
    from shared.providers.azure.transform import to_raw

    table = rows_table(sample_rows(date(2025, 11, 1)))
    raw = to_raw(table.drop_columns(["ResourceName"]).to_batches()[0], DEFAULT_CONFIG_DIR)
    assert raw["ResourceName"].null_count == raw.num_rows and raw["InvoiceId"].null_count == raw.num_rows
    currencies = table["BillingCurrency"].to_pylist()
    currencies[3] = None
    broken = table.set_column(table.schema.get_field_index("BillingCurrency"), "BillingCurrency",
                              pa.array(currencies))  # fmt: skip
    with pytest.raises(TerminalError) as refused:
        to_raw(broken.to_batches()[0], DEFAULT_CONFIG_DIR)
    assert (
        refused.value.code == "PROVIDER_BAD_DATA"
        and "1 export rows have no BillingCurrency" in refused.value.message
    )
