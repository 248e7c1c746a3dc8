"""FOCUS mapping: azure_cost_export rows → cost_focus rows (vectorised). The export is already FOCUS: columns are
carried over, with this platform's own classification of ServiceName, Tags as canonical JSON, InvoiceId from
x_InvoiceId in a 1.0 export, and the lineage of the load."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from shared.providers.azure import constants as az
from shared.providers.kit.arrowkit import NUMERIC, constant, map_values
from shared.providers.kit.focus import service_classes

TIMESTAMP = pa.timestamp("us", tz="UTC")


def canonical_tags(text: str | None) -> str:
    """An exported Tags value as a JSON object with sorted keys ("{}" for none). Older Cost Management files wrote
    the pairs without braces ("env": "prod"); both read the same."""
    if text is None or not text.strip():
        return "{}"
    body = text.strip()
    try:
        tags = json.loads(body if body.startswith("{") else "{" + body + "}")
    except json.JSONDecodeError:
        tags = {"x_unparsed_tags": body}  # kept, not lost: a malformed tag string still reaches the row
    if not isinstance(tags, dict):
        tags = {"x_unparsed_tags": body}
    return json.dumps({str(k): v for k, v in tags.items()}, sort_keys=True, separators=(",", ":"))


def _classes(service: pa.Array, config_dir: Path) -> tuple[pa.Array, pa.Array]:
    classes, default = service_classes(config_dir, az.PROVIDER_NAME)
    category = map_values(service, lambda s: classes.get(s, default)[0], pa.string())
    return category, map_values(service, lambda s: classes.get(s, default)[1], pa.string())


def _costs(col: dict) -> dict:
    # FOCUS requires every cost; Cost Management leaves List/Contracted empty on some purchases: the billed cost
    # is then the contracted one, and the contracted one the list one.
    contracted = pc.coalesce(col["ContractedCost"], col["BilledCost"])
    return {
        "BilledCost": col["BilledCost"],
        "EffectiveCost": col["EffectiveCost"],
        "ListCost": pc.coalesce(col["ListCost"], contracted),
        "ContractedCost": contracted,
    }


def _quantities(col: dict) -> dict:
    # FOCUS: a quantity only with its unit, and none on Tax rows.
    tax = pc.fill_null(pc.equal(col["ChargeCategory"], "Tax"), False)
    null_number, null_text = pa.nulls(len(tax), NUMERIC), pa.nulls(len(tax), pa.string())
    priced = pc.and_(
        pc.invert(tax), pc.and_(pc.is_valid(col["PricingQuantity"]), pc.is_valid(col["PricingUnit"]))
    )
    consumed = pc.and_(
        pc.invert(tax), pc.and_(pc.is_valid(col["ConsumedQuantity"]), pc.is_valid(col["ConsumedUnit"]))
    )
    return {
        "PricingQuantity": pc.if_else(priced, col["PricingQuantity"], null_number),
        "PricingUnit": pc.if_else(priced, col["PricingUnit"], null_text),
        "ConsumedQuantity": pc.if_else(consumed, col["ConsumedQuantity"], null_number),
        "ConsumedUnit": pc.if_else(consumed, col["ConsumedUnit"], null_text),
    }


def focus_rows(raw: pa.Table, audit: dict, config_dir: Path) -> pa.Table:
    """cost_focus rows (its columns, by name) for azure_cost_export rows: one per export row."""
    n, col = raw.num_rows, {name: raw[name].combine_chunks() for name in raw.column_names}
    provider = constant(az.PROVIDER_NAME, pa.string(), n)
    service = pc.coalesce(col["ServiceName"], col["x_SkuMeterCategory"], provider)
    category, subcategory = _classes(service, config_dir)
    tax = pc.fill_null(pc.equal(col["ChargeCategory"], "Tax"), False)
    null_number = pa.nulls(n, NUMERIC)
    return pa.table(
        {
            "BillingAccountId": col["BillingAccountId"],
            "BillingAccountName": col["BillingAccountName"],
            "SubAccountId": col["SubAccountId"],
            "SubAccountName": col["SubAccountName"],
            "BillingCurrency": col["BillingCurrency"],
            "BillingPeriodStart": col["BillingPeriodStart"],
            "BillingPeriodEnd": col["BillingPeriodEnd"],
            "InvoiceId": pc.coalesce(col["InvoiceId"], col["x_InvoiceId"]),
            "ChargePeriodStart": col["ChargePeriodStart"],
            "ChargePeriodEnd": col["ChargePeriodEnd"],
            "ChargeCategory": col["ChargeCategory"],
            "ChargeClass": col["ChargeClass"],
            "ChargeDescription": col["ChargeDescription"],
            "ChargeFrequency": col["ChargeFrequency"],
            **_costs(col),
            **_quantities(col),
            "ProviderName": provider,
            "PublisherName": pc.coalesce(col["PublisherName"], provider),
            "InvoiceIssuerName": pc.coalesce(col["InvoiceIssuerName"], provider),
            "ServiceCategory": category,
            "ServiceName": service,
            "ServiceSubcategory": subcategory,
            "SkuId": pc.if_else(tax, pa.scalar(None, pa.string()), col["SkuId"]),  # FOCUS: no SKU on Tax
            "RegionId": col["RegionId"],
            "RegionName": col["RegionName"],
            "AvailabilityZone": col["AvailabilityZone"],
            "ResourceId": col["ResourceId"],
            "ResourceName": col["ResourceName"],
            "Tags": map_values(col["Tags"], canonical_tags, pa.string()),
            "CommitmentDiscountId": col["CommitmentDiscountId"],
            "CommitmentDiscountCategory": col["CommitmentDiscountCategory"],
            "CommitmentDiscountType": col["CommitmentDiscountType"],
            "CommitmentDiscountStatus": col["CommitmentDiscountStatus"],
            "x_cost_type": col["x_PricingSubcategory"],
            "x_credits_total": null_number,
            "x_credits_committed_use": null_number,
            "x_credits_sustained_use": null_number,
            "x_credits_promotion": null_number,
            "x_credits_discount": null_number,
            "x_credits_other": null_number,
            "x_currency_conversion_rate": col["x_BillingExchangeRate"],
            "x_model": pa.nulls(n, pa.string()),
            "x_token_type": pa.nulls(n, pa.string()),
            "x_source_table": constant(az.RAW_TABLE, pa.string(), n),
            "x_source_partition": col["billing_period"],
            "x_pipeline_logging_id": constant(audit["x_pipeline_logging_id"], pa.string(), n),
            "x_ingested_at": constant(audit["x_ingested_at"], TIMESTAMP, n),
        }
    )
