"""The straightforward transform, one Python dict per row (Decimal money): the oracle the vectorised transform is
tested against, and the benchmark's row-by-row baseline. The pipeline itself never runs it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from shared.providers.gcp import constants as gcp
from shared.providers.gcp.focus import CHARGE_CATEGORY, billing_period
from shared.providers.gcp.sql import EXPORT_COLUMNS

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
        **audit,
    }


def _tags(raw: dict) -> str:
    merged: dict = {}
    for items in (raw["labels"], (raw["project"] or {}).get("labels"), raw["system_labels"]):
        for item in items or ():
            if item["key"] is not None:
                merged.setdefault(item["key"], item["value"])
    return json.dumps(merged, sort_keys=True, separators=(",", ":"))


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
    priced = cost_type != "tax" and None not in (
        usage.get("pricing_unit"),
        usage.get("amount_in_pricing_units"),
    )
    pricing = usage.get("amount_in_pricing_units") if priced else None
    consumed = usage.get("amount") if regular and usage.get("unit") is not None else None
    start, end = raw["usage_start_time"], raw["usage_end_time"]
    month = (raw["invoice"] or {}).get("month")
    get = lambda record, key: (raw[record] or {}).get(key)
    return {
        "BillingAccountId": raw["billing_account_id"],
        "BillingAccountName": None,
        "SubAccountId": get("project", "id"),
        "SubAccountName": get("project", "name"),
        "BillingCurrency": raw["currency"],
        "BillingPeriodStart": billing_period(month, False),
        "BillingPeriodEnd": billing_period(month, True),
        "InvoiceId": None,
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end if end > start else start + timedelta(hours=1),
        "ChargeCategory": CHARGE_CATEGORY.get(cost_type or "regular", "Usage"),
        "ChargeClass": "Correction" if cost_type == "adjustment" else None,
        "ChargeDescription": get("adjustment_info", "description") or get("sku", "description") or service,
        "ChargeFrequency": "Usage-Based" if regular else "One-Time",
        "BilledCost": raw["net_cost"],
        "EffectiveCost": raw["net_cost"],
        "ListCost": raw["cost_at_list"] if raw["cost_at_list"] is not None else raw["cost"],
        "ContractedCost": raw["cost"],
        "PricingQuantity": pricing,
        "PricingUnit": usage.get("pricing_unit") if priced else None,
        "ConsumedQuantity": consumed,
        "ConsumedUnit": usage.get("unit") if consumed is not None else None,
        "ProviderName": gcp.PROVIDER_NAME,
        "PublisherName": gcp.PROVIDER_NAME if raw["seller_name"] in (None, "Google") else raw["seller_name"],
        "InvoiceIssuerName": gcp.PROVIDER_NAME,
        "ServiceCategory": classes.get(service, default)[0],
        "ServiceName": service or gcp.PROVIDER_NAME,
        "ServiceSubcategory": classes.get(service, default)[1],
        "SkuId": get("sku", "id"),
        "RegionId": get("location", "region"),
        "RegionName": get("location", "region"),
        "AvailabilityZone": get("location", "zone"),
        "ResourceId": get("resource", "global_name"),
        "ResourceName": get("resource", "name"),
        "Tags": _tags(raw),
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
