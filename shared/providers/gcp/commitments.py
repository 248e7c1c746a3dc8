"""Committed use discounts in FOCUS: which rows are commitment fees (Purchase) and which usage they cover, their
commitment discount columns, and FOCUS 1.2's amortisation of each hour's fee over the usage it covered.

Google bills a CUD two ways. Legacy model (resource-based CUDs, and spend-based ones not migrated): an hourly fee
row ("Commitment v1: ..." or "Commitment - dollar based v1: ...") at the commitment's price, and the covered usage
at its on-demand cost with a COMMITTED_USAGE_DISCOUNT(_DOLLAR_BASE) credit taking the covered part off. New
spend-based model: covered usage is priced at the CUD's discounted price (`consumption_model` names the CUD's
model, `cost_at_effective_price_default` keeps the price without it), and the hourly fee row carries a
FEE_UTILIZATION_OFFSET credit for the part of the commitment that covered usage used: the fee row's net cost is
the unused commitment.

FOCUS: a fee is a Purchase with EffectiveCost 0; the usage it covered carries it (legacy: the hour's net fee spread
over the covered rows in proportion to their CUD credits; new model: the covered rows already carry their share at
the discounted price); what no usage used becomes a Usage row of its own, CommitmentDiscountStatus "Unused",
EffectiveCost the unused amount and BilledCost 0. BilledCost stays the export's, so it still sums to the invoice.
The export does not link a fee to the rows it covered: the pool of a row is its billing account and CUD model
(new model: its consumption model; legacy: spend- or resource-based), and a fee covers its pool's usage of the
same hour and currency.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from shared.providers.kit.arrowkit import NUMERIC, field, per_row_sum

FEE_PREFIX = (
    "Commitment"  # "Commitment v1: CPU in Americas for 1 Year", "Commitment - dollar based v1: GCE ..."
)
SPEND_FEE_PREFIX = "Commitment - dollar based"
FEE_OFFSET = "FEE_UTILIZATION_OFFSET"
RESOURCE_CREDIT, SPEND_CREDIT = "COMMITTED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE"
DEFAULT_MODEL = "default"  # the consumption model of usage no CUD covered (compared lower-case)
# Per kind of pool: (CommitmentDiscountId suffix before the model, CommitmentDiscountCategory, Type).
KINDS = {
    "model": ("consumptionModels/", "Spend", "Spend-based committed use discount"),
    "spend": ("commitments/", "Spend", "Spend-based committed use discount"),
    "resource": ("commitments/", "Usage", "Resource-based committed use discount"),
}


def pool_id(account: str, kind: str, model: str | None) -> str:
    """The CommitmentDiscountId of a pool: the billing account's CUD model (legacy: spend- or resource-based)."""
    prefix = KINDS[kind][0]
    name = model if kind == "model" else f"{kind}-based"
    return f"billingAccounts/{account}/{prefix}{name}"


def row_kinds(col: dict) -> dict:
    """Per row: `fee` (bool), `kind` ("model" | "spend" | "resource" | null), `weight` (NUMERIC, legacy CUD
    credit, positive) and `model` (consumption model id), vectorised."""
    n = len(col["cost_type"])
    items, parents = (
        pc.list_flatten(col["credits"]),
        pc.cast(pc.list_parent_indices(col["credits"]), pa.int64()),
    )
    kinds, amounts = field(items, "type"), field(items, "amount")

    def credit(kind: str) -> pa.Array:
        return pc.negate(per_row_sum(n, parents, amounts, pc.fill_null(pc.equal(kinds, kind), False)))

    description = pc.fill_null(field(col["sku"], "description"), "")
    regular = pc.fill_null(pc.equal(pc.fill_null(col["cost_type"], "regular"), "regular"), False)
    offset = pc.not_equal(credit(FEE_OFFSET), pa.scalar(0, NUMERIC))
    # A fee is known by its SKU's name only: a FEE_UTILIZATION_OFFSET credit marks a used fee, not an unused one.
    fee = pc.and_(regular, pc.starts_with(description, FEE_PREFIX))
    model = field(col["consumption_model"], "id")
    model_name = pc.utf8_lower(pc.fill_null(field(col["consumption_model"], "description"), DEFAULT_MODEL))
    cud_model = pc.and_(pc.is_valid(model), pc.not_equal(model_name, DEFAULT_MODEL))
    spend, resource = credit(SPEND_CREDIT), credit(RESOURCE_CREDIT)
    zero = pa.scalar(0, NUMERIC)
    conditions = [
        pc.and_(regular, cud_model),
        # A fee with a utilisation offset is a spend-based one even if the row names no consumption model.
        pc.and_(fee, pc.or_(pc.starts_with(description, SPEND_FEE_PREFIX), offset)),
        fee,
        pc.and_(regular, pc.not_equal(spend, zero)),
        pc.and_(regular, pc.not_equal(resource, zero)),
    ]
    kind = pc.case_when(
        pa.StructArray.from_arrays(conditions, names=[str(i) for i in range(len(conditions))]),
        *(pa.scalar(k, pa.string()) for k in ("model", "spend", "resource", "spend", "resource")),
    )
    weight = pc.if_else(
        pc.equal(kind, "spend"), spend, pc.if_else(pc.equal(kind, "resource"), resource, zero)
    )
    return {"fee": fee, "kind": kind, "weight": pc.fill_null(weight, zero), "model": model}


# FOCUS columns that order a pool-hour's rows (ascending, nulls first): its first fee names the unused-commitment row
# and its last covered row takes the rounding remainder. The export's row order is arbitrary (and differs between a
# Storage Read and a query in BigQuery), so both modes order by the rows' own values: rows equal in all of these
# produce equal FOCUS rows whichever of them comes first.
ORDER_COLUMNS = (
    "ChargeDescription",
    "SkuId",
    "SubAccountId",
    "ResourceId",
    "RegionId",
    "AvailabilityZone",
    "ChargePeriodEnd",
    "BilledCost",
    "ListCost",
    "ContractedCost",
    "PricingQuantity",
    "ConsumedQuantity",
    "x_credits_total",
    "x_source_partition",
    "Tags",
)
# The shares are computed on integer nano-units; granted mode's SQL (INT64) needs a pool-hour's net fee and its
# covered credits below 2**54 nanos (about 18 million in the billing currency per pool and hour): past that its
# job fails on an INT64 overflow rather than write a wrong amount.
SHARE_LIMIT_NANOS = 2**54


def share(fee_net: Decimal, weight: Decimal, total: Decimal) -> Decimal:
    """fee_net × weight / total, rounded half to even at NUMERIC's 9 decimals, computed exactly on integer nanos (as
    the granted mode's SQL does, in focus_sql.py)."""
    numerator, divisor = int(fee_net.scaleb(9)) * int(weight.scaleb(9)), int(total.scaleb(9))
    quotient, remainder = divmod(abs(numerator), divisor)
    if 2 * remainder > divisor or (2 * remainder == divisor and quotient % 2):
        quotient += 1
    return Decimal(quotient if numerator >= 0 else -quotient).scaleb(-9)


def order_key(row: dict) -> tuple:
    """A row's place in its pool-hour: ORDER_COLUMNS ascending, a null before any value."""
    return tuple((row[name] is not None, row[name]) for name in ORDER_COLUMNS)


def allocate(rows: list[dict]) -> tuple[dict[int, Decimal], list[dict]]:
    """Amortise each pool-hour's net fee: `rows` are the commitment rows ({index, pool, currency, start, fee, kind,
    net, weight, key}; `key` from `order_key`). Returns the EffectiveCost of each covered legacy row (net + its
    share, the rounding remainder on the pool-hour's last row so the shares sum exactly) and per pool-hour the
    unused amount not carried by usage, on its first fee: {fee_index, amount}."""
    groups: dict[tuple, list[dict]] = {}
    for row in sorted(rows, key=lambda row: row["key"]):
        groups.setdefault((row["pool"], row["currency"], row["start"]), []).append(row)
    effective: dict[int, Decimal] = {}
    unused: list[dict] = []
    for members in groups.values():
        fees = [r for r in members if r["fee"]]
        covered = [r for r in members if not r["fee"] and r["kind"] != "model" and r["weight"] > 0]
        fee_net = sum((r["net"] for r in fees), Decimal(0))
        total = sum((r["weight"] for r in covered), Decimal(0))
        if covered and fees and fees[0]["kind"] != "model":
            given = Decimal(0)
            for position, row in enumerate(covered):
                last = position == len(covered) - 1
                part = fee_net - given if last else share(fee_net, row["weight"], total)
                given += part
                effective[row["index"]] = row["net"] + part
        elif fees and fee_net != 0:
            unused.append({"fee_index": fees[0]["index"], "amount": fee_net})
    return effective, unused
