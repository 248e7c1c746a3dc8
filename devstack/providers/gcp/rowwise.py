"""The straightforward transform, one Python dict per row (Decimal money): the oracle the vectorised transform is
tested against, and the benchmark's row-by-row baseline. The pipeline itself never runs it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from shared.providers.gcp import commitments as cud
from shared.providers.gcp import constants as gcp
from shared.providers.gcp.focus import CHARGE_CATEGORY, billing_period, invoice_id
from shared.providers.gcp.sql import EXPORT_COLUMNS
from shared.providers.gcp.units import focus_unit

NINE_PLACES = Decimal("1e-9")


def numeric(value: float | None) -> Decimal | None:
    """A FLOAT64 as NUMERIC: its exact binary value rounded to 9 decimals."""
    return None if value is None else Decimal(value).quantize(NINE_PLACES, rounding=ROUND_HALF_EVEN)


def raw_row(row: dict, audit: dict) -> dict:
    """One export row (as a dict) → one gcp_billing_daily row."""
    credits = [{**credit, "amount": numeric(credit["amount"])} for credit in row["credits"] or []]
    credits_total = sum((credit["amount"] for credit in credits), Decimal(0))
    usage = row["usage"] and {
        **row["usage"],
        "amount": numeric(row["usage"]["amount"]),
        "amount_in_pricing_units": numeric(row["usage"]["amount_in_pricing_units"]),
    }
    cost = numeric(row["cost"])
    return {
        "partition_date": row["partition_date"],
        "usage_date": row["usage_start_time"].date(),
        **{key: row[key] for key in EXPORT_COLUMNS[:10]},  # billing_account_id .. export_time, as given
        "cost": cost,
        "currency": row["currency"],
        "currency_conversion_rate": numeric(row["currency_conversion_rate"]),
        "usage": usage,
        "credits": credits,
        "credits_total": credits_total,
        "net_cost": cost + credits_total,
        "invoice": row["invoice"],
        "cost_type": row["cost_type"],
        "adjustment_info": row["adjustment_info"],
        "cost_at_list": numeric(row["cost_at_list"]),
        **{key: row[key] for key in ("transaction_type", "seller_name", "resource", "price")},
        "consumption_model": row["consumption_model"],
        "cost_at_effective_price_default": numeric(row["cost_at_effective_price_default"]),
        "tags": row["tags"],
        **audit,
    }


def _tags(raw: dict) -> str:
    merged: dict = {}
    tags = [
        {"key": None if t["key"] is None else f"{t['namespace'] or ''}/{t['key']}", "value": t["value"]}
        for t in raw["tags"] or ()
    ]
    for items in (raw["labels"], (raw["project"] or {}).get("labels"), raw["system_labels"], tags):
        for item in items or ():
            if item["key"] is not None:
                merged.setdefault(item["key"], item["value"])
    return json.dumps(merged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _credit_sums(credits: list[dict]) -> dict:
    sums = {column: Decimal(0) for column in (*gcp.CREDIT_GROUPS, "x_credits_other")}
    for credit in credits:
        column = next(
            (c for c, kinds in gcp.CREDIT_GROUPS.items() if credit["type"] in kinds), "x_credits_other"
        )
        sums[column] += credit["amount"]
    return sums


def focus_row(raw: dict, classes: dict, default: tuple, run_id: str, ingested_at: datetime) -> dict:
    """One gcp_billing_daily row → one cost_focus row (Tags as JSON text); `classes`: ServiceName →
    (ServiceCategory, ServiceSubcategory), `default` for the others."""
    cost_type, usage = raw["cost_type"], raw["usage"] or {}
    regular = (cost_type or "regular") == "regular"
    service = (raw["service"] or {}).get("description")
    get = lambda record, key: (raw[record] or {}).get(key)
    kind, fee = commitment_kind(raw)
    pricing_unit, unit = focus_unit(usage.get("pricing_unit")), focus_unit(usage.get("unit"))
    priced = cost_type != "tax" and None not in (pricing_unit, usage.get("amount_in_pricing_units"))
    pricing = usage.get("amount_in_pricing_units") if priced else None
    usage_row = regular and not fee
    consumed = usage.get("amount") if usage_row and unit is not None else None
    start, end = raw["usage_start_time"], raw["usage_end_time"]
    month = (raw["invoice"] or {}).get("month")
    period_start = billing_period(month, False)
    earlier = period_start is not None and start < period_start
    if fee:
        category, frequency = "Purchase", "Recurring"
    else:
        category = CHARGE_CATEGORY.get(cost_type or "regular", "Usage")
        frequency = "Usage-Based" if regular else "One-Time"
    account = raw["billing_account_id"]
    pool = cud.pool_id(account, kind, get("consumption_model", "id") or "") if kind else None
    return {
        "BillingAccountId": raw["billing_account_id"],
        "BillingAccountName": None,
        "SubAccountId": get("project", "id"),
        "SubAccountName": get("project", "name"),
        "BillingCurrency": raw["currency"],
        "BillingPeriodStart": period_start,
        "BillingPeriodEnd": billing_period(month, True),
        "InvoiceId": invoice_id(account, month),
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end if end > start else start + timedelta(hours=1),
        "ChargeCategory": category,
        "ChargeClass": "Correction" if cost_type == "adjustment" and earlier else None,
        "ChargeDescription": get("adjustment_info", "description") or get("sku", "description") or service,
        "ChargeFrequency": frequency,
        "BilledCost": raw["net_cost"],
        "EffectiveCost": Decimal(0) if fee else raw["net_cost"],
        "ListCost": raw["cost_at_list"] if raw["cost_at_list"] is not None else raw["cost"],
        "ContractedCost": (
            raw["cost_at_effective_price_default"]
            if raw["cost_at_effective_price_default"] is not None
            else raw["cost"]
        ),
        "PricingQuantity": pricing,
        "PricingUnit": pricing_unit if priced else None,
        "ConsumedQuantity": consumed,
        "ConsumedUnit": unit if consumed is not None else None,
        "ProviderName": gcp.PROVIDER_NAME,
        "PublisherName": gcp.PROVIDER_NAME if raw["seller_name"] in (None, "Google") else raw["seller_name"],
        "InvoiceIssuerName": gcp.PROVIDER_NAME,
        "ServiceCategory": classes.get(service, default)[0],
        "ServiceName": service or gcp.PROVIDER_NAME,
        "ServiceSubcategory": classes.get(service, default)[1],
        "SkuId": None if cost_type == "tax" else get("sku", "id"),
        "RegionId": get("location", "region"),
        "RegionName": get("location", "region"),
        "AvailabilityZone": get("location", "zone"),
        "ResourceId": get("resource", "global_name"),
        "ResourceName": get("resource", "name"),
        "Tags": _tags(raw),
        "CommitmentDiscountId": pool,
        "CommitmentDiscountCategory": cud.KINDS[kind][1] if kind else None,
        "CommitmentDiscountType": cud.KINDS[kind][2] if kind else None,
        "CommitmentDiscountStatus": "Used" if kind and not fee else None,
        "x_cost_type": cost_type,
        "x_credits_total": raw["credits_total"],
        **_credit_sums(raw["credits"]),
        "x_currency_conversion_rate": raw["currency_conversion_rate"],
        "x_model": None,
        "x_token_type": None,
        "x_source_table": "gcp_billing_daily",
        "x_source_partition": raw["partition_date"],
        "x_pipeline_logging_id": run_id,
        "x_ingested_at": ingested_at,
    }


def commitment_kind(raw: dict) -> tuple[str | None, bool]:
    """(the row's CUD pool kind or None, whether it is a commitment fee), one row at a time."""
    if (raw["cost_type"] or "regular") != "regular":
        return None, False
    description = (raw["sku"] or {}).get("description") or ""
    credits = {
        kind: sum((-c["amount"] for c in raw["credits"] if c["type"] == kind), Decimal(0))
        for kind in (cud.FEE_OFFSET, cud.SPEND_CREDIT, cud.RESOURCE_CREDIT)
    }
    fee = description.startswith(cud.FEE_PREFIX)
    model = raw["consumption_model"] or {}
    if model.get("id") is not None and (model.get("description") or "default").lower() != cud.DEFAULT_MODEL:
        return "model", fee
    if fee:
        spend = description.startswith(cud.SPEND_FEE_PREFIX) or credits[cud.FEE_OFFSET] != 0
        return ("spend" if spend else "resource"), True
    if credits[cud.SPEND_CREDIT] != 0:
        return "spend", False
    return ("resource" if credits[cud.RESOURCE_CREDIT] != 0 else None), False


def focus_rows(raws: list[dict], classes: dict, default: tuple, run_id: str, ingested_at: datetime) -> list:
    """The cost_focus rows of a batch: `focus_row` of each, covered legacy usage carrying its share of the
    hour's fee, and an Unused row per pool-hour with commitment left over (as shared.providers.gcp.focus)."""
    rows = [focus_row(raw, classes, default, run_id, ingested_at) for raw in raws]
    members = []
    for index, (raw, row) in enumerate(zip(raws, rows)):
        kind, fee = commitment_kind(raw)
        if kind is None:
            continue
        credit = cud.SPEND_CREDIT if kind == "spend" else cud.RESOURCE_CREDIT
        weight = sum((-c["amount"] for c in raw["credits"] if c["type"] == credit), Decimal(0))
        members.append(
            {
                "index": index,
                "pool": row["CommitmentDiscountId"],
                "currency": raw["currency"],
                "start": raw["usage_start_time"],
                "fee": fee,
                "kind": kind,
                "net": raw["net_cost"],
                "weight": weight if kind != "model" else Decimal(0),
                "key": cud.order_key(row),
            }
        )
    effective, unused = cud.allocate(members)
    for index, cost in effective.items():
        rows[index]["EffectiveCost"] = cost
    zeros = {
        name: Decimal(0)
        for name in (
            "BilledCost",
            "ListCost",
            "ContractedCost",
            "PricingQuantity",
            "x_credits_total",
            *gcp.CREDIT_GROUPS,
            "x_credits_other",
        )
    }
    for left in unused:
        fee_row = rows[left["fee_index"]]
        rows.append(
            {
                **fee_row,
                **zeros,
                "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "ChargeDescription": f"Unused commitment: {fee_row['ChargeDescription'] or ''}",
                "EffectiveCost": left["amount"],
                "PricingUnit": fee_row["PricingUnit"] or "Units",
                "CommitmentDiscountStatus": "Unused",
                "x_cost_type": "unused_commitment",
            }
        )
    return rows
