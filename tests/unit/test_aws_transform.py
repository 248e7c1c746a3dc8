"""The AWS export's two formats land the same: a Parquet-typed batch and the text a gzip CSV export holds for the
same rows (ISO timestamps with or without Z, doubles in exponent form, maps as JSON) give identical raw rows;
money is the double correctly rounded to NUMERIC; a malformed value is a clear PROVIDER_BAD_DATA."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from devstack.providers.aws.delivery import rows_table
from shared.platform.errors import TerminalError
from shared.providers.aws.transform import CSV_TYPES, charge_days, to_raw

ROWS = [
    {"BillingAccountId": "111122223333", "BillingCurrency": "USD", "ChargePeriodStart": datetime(2025, 10, 1, 23),
     "ChargePeriodEnd": datetime(2025, 10, 2), "BilledCost": 0.1 + 0.2, "EffectiveCost": 1.5e-05,
     "ServiceName": "AWS Lambda", "Tags": {"user:team": "web", "aws:createdBy": "x"},
     "x_Discounts": {"SavingsPlan": -0.25}},
    {"BillingAccountId": "111122223333", "BillingCurrency": "EUR", "ChargePeriodStart": datetime(2025, 10, 2),
     "ChargePeriodEnd": datetime(2025, 10, 2, 1), "BilledCost": -5.5, "EffectiveCost": -5.5,
     "ServiceName": "Amazon Elastic Compute Cloud"},
]  # fmt: skip
CSV_TEXT = {  # the same rows as the CSV export's text (AWS writes ISO instants; doubles as the shortest repr)
    "BillingAccountId": ["111122223333", "111122223333"], "BillingCurrency": ["USD", "EUR"],
    "ChargePeriodStart": ["2025-10-01T23:00:00.000Z", "2025-10-02 00:00:00"],
    "ChargePeriodEnd": ["2025-10-02T00:00:00Z", "2025-10-02T01:00:00+00:00"],
    "BilledCost": ["0.30000000000000004", "-5.5"], "EffectiveCost": ["1.5E-5", "-5.5"],
    "ServiceName": ["AWS Lambda", "Amazon Elastic Compute Cloud"],
    "Tags": ['{"user:team": "web", "aws:createdBy": "x"}', None], "x_Discounts": ['{"SavingsPlan": -0.25}', ""],
}  # fmt: skip


def _csv_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({k: pa.array(v, CSV_TYPES[k]) for k, v in CSV_TEXT.items()})


def test_parquet_and_csv_rows_become_the_same_raw_rows():
    parquet = to_raw(rows_table(ROWS).to_batches()[0])
    csv = to_raw(_csv_batch())
    assert parquet.to_pylist() == csv.to_pylist()
    first = parquet.to_pylist()[0]
    assert (first["BilledCost"], first["EffectiveCost"]) == (Decimal("0.300000000"), Decimal("0.000015000"))
    assert first["Tags"] == '{"aws:createdBy":"x","user:team":"web"}'  # keys sorted: equal maps, equal text
    assert [r["charge_date"].isoformat() for r in parquet.to_pylist()] == ["2025-10-01", "2025-10-02"]
    assert [r["BillingCurrency"] for r in csv.to_pylist()] == ["USD", "EUR"]  # each row keeps its currency


def test_charge_days_are_utc_days_of_the_charge_start():
    assert [d.isoformat() for d in charge_days(_csv_batch()).to_pylist()] == ["2025-10-01", "2025-10-02"]


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("BilledCost", "12,50", "not a number"),
        ("ChargePeriodStart", "yesterday", "ISO 8601"),
        ("Tags", "{x", "JSON"),
    ],
)
def test_malformed_values_are_bad_data_with_what_broke(column, value, says):
    text = {k: list(v) for k, v in CSV_TEXT.items()}
    text[column][0] = value
    batch = pa.RecordBatch.from_pydict({k: pa.array(v, CSV_TYPES[k]) for k, v in text.items()})
    with pytest.raises(TerminalError) as refused:
        to_raw(batch)
    assert refused.value.code == "PROVIDER_BAD_DATA" and says in refused.value.message
