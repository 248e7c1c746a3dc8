"""A synthetic AWS Data Exports FOCUS export (deterministic for a seed): hourly usage of EC2, S3, RDS, Lambda,
CloudFront and data transfer over several linked accounts, a Compute Savings Plan and an RDS reservation
(recurring fees, covered usage at the amortised rate, the unused rest), a promotional credit, a refund and tax.
A restatement is a new revision: another execution whose files hold different amounts for the same period.
Generated a day (≤ CHUNK_ROWS rows) at a time, vectorised, so 1M- and 5M-row months stream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from devstack.providers.aws import catalogue as cat
from devstack.providers.aws.delivery import EXPORT_SCHEMA, rows_table, write_delivery
from shared.providers.kit.exports.periods import month_start, next_month

CHUNK_ROWS = 100_000
HOUR_MS = 3_600_000


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _take(pool: list, indices, type_=None) -> pa.Array:
    return pa.array(pool, type_ or pa.string()).take(pa.array(indices))


def usage_chunk(rng, day: date, n: int) -> tuple[pa.Table, float, float]:
    """n usage rows of one day; also the EffectiveCost covered by the Savings Plan and by the reservation."""
    import numpy as np

    lines = cat.USAGE
    kind = rng.choice(
        len(lines), size=n, p=np.array([line[11] for line in lines]) / sum(line[11] for line in lines)
    )
    account = rng.integers(0, len(cat.ACCOUNTS), n)
    region = np.where(np.isin(kind, (5,)), 0, rng.integers(0, len(cat.REGIONS), n))
    low, high = (np.array([line[10][i] for line in lines])[kind] for i in (0, 1))
    quantity = np.round(low + (high - low) * rng.random(n), 6)
    price = np.array([line[6] for line in lines])[kind]
    commitment = np.array([line[8] or "" for line in lines])[kind]
    sp, ri = commitment == "sp", commitment == "ri"
    list_cost = np.round(quantity * price, 10)
    effective = np.where(
        sp,
        np.round(quantity * cat.SP_RATE, 10),
        np.where(ri, np.round(quantity * cat.RI_RATE, 10), list_cost),
    )
    billed = np.where(sp | ri, 0.0, list_cost)
    start = _ms(day) + rng.integers(0, 24, n) * HOUR_MS
    resource = rng.integers(0, 40, n)
    tags = rng.integers(0, len(cat.TAG_SETS), n)
    column = {
        "AvailabilityZone": _take(
            [f"{r[0]}{z}" for r in cat.REGIONS for z in "ab"], region * 2 + (resource % 2)
        ),
        "BilledCost": pa.array(billed),
        "BillingAccountId": pa.repeat(pa.scalar(cat.PAYER[0]), n),
        "BillingAccountName": pa.repeat(pa.scalar(cat.PAYER[1]), n),
        "BillingCurrency": pa.repeat(pa.scalar("USD"), n),
        "ChargeCategory": pa.repeat(pa.scalar("Usage"), n),
        "ChargeDescription": _take([line[7] for line in lines], kind),
        "ChargeFrequency": pa.repeat(pa.scalar("Usage-Based"), n),
        "ChargePeriodStart": pa.array(start).cast(pa.timestamp("ms")),
        "ChargePeriodEnd": pa.array(start + HOUR_MS).cast(pa.timestamp("ms")),
        "ConsumedQuantity": pa.array(quantity),
        "ConsumedUnit": _take([line[5] for line in lines], kind),
        "ContractedCost": pa.array(list_cost),
        "ContractedUnitPrice": pa.array(price),
        "EffectiveCost": pa.array(effective),
        "ListCost": pa.array(list_cost),
        "ListUnitPrice": pa.array(price),
        "PricingCategory": pa.array(np.where(sp | ri, "Committed", "Standard")),
        "PricingQuantity": pa.array(quantity),
        "PricingUnit": _take([line[5] for line in lines], kind),
        "RegionId": _take([r[0] for r in cat.REGIONS], region),
        "RegionName": _take([r[1] for r in cat.REGIONS], region),
        "ResourceId": _take([f"{line[9]}{i:04x}" for line in lines for i in range(40)], kind * 40 + resource),
        "ServiceName": _take([line[0] for line in lines], kind),
        "SkuId": _take([line[2] for line in lines], kind),
        "SkuPriceId": _take([f"{line[2]}.JRTCKXETXF.6YS6EN2CT7" for line in lines], kind),
        "SubAccountId": _take([a[0] for a in cat.ACCOUNTS], account),
        "SubAccountName": _take([a[1] for a in cat.ACCOUNTS], account),
        "Tags": _take([list(t.items()) for t in cat.TAG_SETS], tags, EXPORT_SCHEMA.field("Tags").type),
        "x_CostCategories": _take(
            [
                [("environment", cat.COST_CATEGORIES[a[0]])] if a[0] in cat.COST_CATEGORIES else []
                for a in cat.ACCOUNTS
            ],
            account,
            EXPORT_SCHEMA.field("x_CostCategories").type,
        ),
        "x_Operation": _take([line[4] for line in lines], kind),
        "x_ServiceCode": _take([line[1] for line in lines], kind),
        "x_UsageType": _take([line[3] for line in lines], kind),
    }
    for name, flag, arn, kind_name, category in (
        ("sp", sp, cat.SAVINGS_PLAN, "Savings Plan", "Spend"),
        ("ri", ri, cat.RESERVATION, "Reserved Instance", "Usage"),
    ):
        for field, value in (
            ("CommitmentDiscountId", arn),
            ("CommitmentDiscountName", f"acme-{name}"),
            ("CommitmentDiscountType", kind_name),
            ("CommitmentDiscountCategory", category),
            ("CommitmentDiscountStatus", "Used"),
        ):
            column[field] = _pick(flag, value, column.get(field, pa.nulls(n, pa.string())))
    table = _complete(column, n)
    return table, float(effective[sp].sum()), float(effective[ri].sum())


def _pick(flag, value: str, previous: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.if_else(pa.array(flag), pa.scalar(value), previous)


def _complete(columns: dict, n: int) -> pa.Table:
    """Columns of EXPORT_SCHEMA (the period, provider names; missing ones null), in its order."""
    return pa.table(
        {f.name: columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in EXPORT_SCHEMA},
        schema=EXPORT_SCHEMA,
    )


def _with_identity(table: pa.Table, period: date) -> pa.Table:
    n = table.num_rows
    fixed = {
        "BillingPeriodStart": pa.repeat(pa.scalar(_ms(period)), n).cast(pa.timestamp("ms")),
        "BillingPeriodEnd": pa.repeat(pa.scalar(_ms(next_month(period))), n).cast(pa.timestamp("ms")),
        "ProviderName": pa.repeat(pa.scalar("AWS"), n),
        "PublisherName": pa.repeat(pa.scalar("AWS"), n),
        "InvoiceIssuerName": pa.repeat(pa.scalar("AWS"), n),
    }
    for name, values in fixed.items():
        table = table.set_column(table.schema.get_field_index(name), name, values)
    return table


def day_rows(day: date, sp_used: float, ri_used: float) -> list[dict]:
    """The day's commitment rows: recurring fees (Purchase, EffectiveCost 0: amortised onto usage) and what the
    usage left unused (Usage, Status Unused, BilledCost 0)."""
    start, end = (
        datetime(day.year, day.month, day.day),
        datetime(day.year, day.month, day.day) + timedelta(days=1),
    )
    common = {"BillingAccountId": cat.PAYER[0], "BillingAccountName": cat.PAYER[1], "BillingCurrency": "USD",
              "ChargePeriodStart": start, "ChargePeriodEnd": end, "RegionId": "us-east-1",
              "RegionName": "US East (N. Virginia)"}  # fmt: skip
    rows = []
    for arn, name, kind, category, service, fee, used, account, sku in (
        (cat.SAVINGS_PLAN, "acme-sp", "Savings Plan", "Spend", cat.SP_SERVICE, cat.SP_DAILY_COMMITMENT, sp_used,
         cat.PAYER, "SavingsPlanRecurringFee"),
        (cat.RESERVATION, "acme-ri", "Reserved Instance", "Usage", cat.RDS, cat.RI_DAILY_FEE, ri_used,
         cat.ACCOUNTS[0], "8KGT6CMZ2XRQ4E3C"),
    ):  # fmt: skip
        commitment = {"CommitmentDiscountId": arn, "CommitmentDiscountName": name, "CommitmentDiscountType": kind,
                      "CommitmentDiscountCategory": category, "ServiceName": service, "SkuId": sku,
                      "SubAccountId": account[0], "SubAccountName": account[1], "PricingCategory": "Committed"}  # fmt: skip
        fee = round(fee, 6)
        rows.append({**common, **commitment, "ChargeCategory": "Purchase", "ChargeFrequency": "Recurring",
                     "ChargeDescription": f"{kind} recurring fee", "BilledCost": fee, "EffectiveCost": 0.0,
                     "ListCost": fee, "ContractedCost": fee, "PricingQuantity": 24.0, "PricingUnit": "Hours",
                     "ListUnitPrice": round(fee / 24, 10), "ContractedUnitPrice": round(fee / 24, 10)})  # fmt: skip
        unused = round(max(fee - used, 0.0), 10)
        if unused:
            rows.append({**common, **commitment, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
                         "ChargeDescription": f"Unused {kind}", "BilledCost": 0.0, "EffectiveCost": unused,
                         "ListCost": 0.0, "ContractedCost": 0.0, "PricingQuantity": 0.0, "PricingUnit": "Hours",
                         "CommitmentDiscountStatus": "Unused"})  # fmt: skip
    return rows


def month_rows(period: date, revision: int) -> list[dict]:
    """Once a period (its first day): tax per linked account, a promotional credit and a refund (bigger in a
    restatement: the credit is applied again)."""
    start, end = (
        datetime(period.year, period.month, 1),
        datetime.combine(next_month(period), datetime.min.time()),
    )
    common = {"BillingAccountId": cat.PAYER[0], "BillingAccountName": cat.PAYER[1], "BillingCurrency": "USD",
              "ChargePeriodStart": start, "ChargePeriodEnd": end, "ChargeFrequency": "One-Time",
              "ServiceName": cat.EC2, "x_ServiceCode": "AmazonEC2"}  # fmt: skip
    rows = [
        {**common, "SubAccountId": account, "SubAccountName": name, "ChargeCategory": "Tax",
         "ChargeDescription": "Tax for product code AmazonEC2", "BilledCost": tax, "EffectiveCost": tax,
         "ListCost": tax, "ContractedCost": tax}
        for (account, name), tax in zip(cat.ACCOUNTS, (41.25, 12.5, 18.75, 3.1), strict=True)
    ]  # fmt: skip
    credit = -250.0 if revision == 0 else -300.0
    rows.append({**common, "SubAccountId": cat.ACCOUNTS[3][0], "SubAccountName": cat.ACCOUNTS[3][1],
                 "ChargeCategory": "Credit", "ChargeDescription": "AWS Promotional Credit", "BilledCost": credit,
                 "EffectiveCost": credit, "ListCost": 0.0, "ContractedCost": 0.0})  # fmt: skip
    rows.append({**common, "SubAccountId": cat.ACCOUNTS[0][0], "SubAccountName": cat.ACCOUNTS[0][1],
                 "ChargeCategory": "Credit", "ChargeDescription": "Refund for service disruption",
                 "BilledCost": -37.5, "EffectiveCost": -37.5, "ListCost": 0.0, "ContractedCost": 0.0})  # fmt: skip
    return rows


def month_chunks(
    period: date, last: date, rows_per_day: int, seed: int = 7, revision: int = 0
) -> Iterator[pa.Table]:
    """The period's rows from its first day to `last` (inclusive), a chunk at a time."""
    import numpy as np

    day = month_start(period)
    yield _with_identity(rows_table(month_rows(period, revision)), period)
    while day <= last and day < next_month(period):
        rng = np.random.default_rng([seed, day.toordinal(), revision])
        sp_used = ri_used = 0.0
        for offset in range(0, rows_per_day, CHUNK_ROWS):
            table, sp, ri = usage_chunk(rng, day, min(CHUNK_ROWS, rows_per_day - offset))
            sp_used, ri_used = sp_used + sp, ri_used + ri
            yield _with_identity(table, period)
        yield _with_identity(rows_table(day_rows(day, sp_used, ri_used)), period)
        day += timedelta(days=1)


def write_month(client, bucket: str, prefix: str, export_name: str, period: date, last: date, *,
                rows_per_day: int = 400, fmt: str = "parquet", seed: int = 7, revision: int = 0,
                rows_per_file: int = 500_000) -> dict:  # fmt: skip
    """Write one delivery of the period (through `last`) and its manifest; returns the manifest."""
    execution = f"{period:%Y%m}-r{revision}-{seed:04d}-0b9c4d2e"
    chunks = month_chunks(period, last, rows_per_day, seed, revision)
    return write_delivery(
        client, bucket, prefix, export_name, period, chunks, execution_id=execution, fmt=fmt,
        rows_per_file=rows_per_file,
    )  # fmt: skip
