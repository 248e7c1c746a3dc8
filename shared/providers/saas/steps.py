"""SaaS step types: the org's plans (Firestore) → saas_subscriptions_daily rows for the step's days (charges.py
prices them), and their cost_focus rows (SQL in the warehouse), ProviderName being each plan's vendor."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime

from shared.platform.errors import PipelineError, TerminalError, TransientError
from shared.providers.contract import Processor, StepContext
from shared.providers.kit.focus import COMMIT_RESERVE_SECONDS, FOCUS_TABLE, focus_select, replace_focus_slice
from shared.providers.kit.money import to_numeric
from shared.providers.kit.rows import AUDIT_COLUMNS, finish_rows
from shared.providers.saas import PROVIDER
from shared.providers.saas.charges import daily_charges

RAW_TABLE = "saas_subscriptions_daily"
KEY = ("charge_date", "subscription_id", "charge_kind", "version")
MONEY_COLUMNS = (
    "unit_price",
    "discount_percent",
    "discount_amount",
    "list_amount",
    "amount",
    "billed_amount",
)
COLUMNS = (
    *KEY,
    "vendor",
    "product",
    "plan",
    "invoice_issuer",
    "currency",
    "billing_cycle",
    "cycle_start",
    "cycle_end",
    "invoice_date",
    "seats",
    *MONEY_COLUMNS,
    "tags",
    *AUDIT_COLUMNS,
)
DEFAULT_TIMEOUT_SECONDS = 30.0
# How the store's google.api_core errors (gRPC status) map to the catalogue: what the caller must do about them.
STORE_ERRORS = {
    "TooManyRequests": "PROVIDER_RATE_LIMITED",
    "ResourceExhausted": "PROVIDER_RATE_LIMITED",
    "ServiceUnavailable": "PROVIDER_UNAVAILABLE",
    "BadGateway": "PROVIDER_UNAVAILABLE",
    "DeadlineExceeded": "PROVIDER_TIMEOUT",
    "GatewayTimeout": "PROVIDER_TIMEOUT",
    "RetryError": "PROVIDER_TIMEOUT",
    "InternalServerError": "PROVIDER_UNREACHABLE",  # a stream cut short (RST_STREAM) surfaces as INTERNAL
    "Unknown": "PROVIDER_UNREACHABLE",
    "DataLoss": "PROVIDER_UNREACHABLE",
    "Aborted": "PROVIDER_UNREACHABLE",
    "Unauthenticated": "PROVIDER_AUTH_FAILED",
    "Unauthorized": "PROVIDER_AUTH_FAILED",
    "PermissionDenied": "PROVIDER_PERMISSION_DENIED",
    "Forbidden": "PROVIDER_PERMISSION_DENIED",
}
TERMINAL = {"PROVIDER_AUTH_FAILED", "PROVIDER_PERMISSION_DENIED"}


def store_error(exc: Exception) -> PipelineError | None:
    """The catalogue's error for a failure of the plan store; None for one it does not know (left to the
    executor's classification)."""
    code = STORE_ERRORS.get(type(exc).__name__)
    if code is None:
        return None
    message = f"The SaaS plan store failed ({type(exc).__name__})."
    return TerminalError(code, message) if code in TERMINAL else TransientError(code, message)


def extract_plans(ctx: StepContext) -> Iterator[dict]:
    """Every plan of the org with its versions, read from the control store (or `ctx.source_clients`)."""
    from shared.runs.control import control_db
    from shared.saas.plans import org_subscriptions

    db = ctx.source_clients or control_db(ctx.settings)
    try:
        plans = org_subscriptions(db, ctx.org_slug, ctx.request_timeout or DEFAULT_TIMEOUT_SECONDS)
    except Exception as exc:
        if (error := store_error(exc)) is None:
            raise
        raise error from None
    yield from plans


def transform_plans(
    plans: Iterable[dict], ctx: StepContext, ingested_at: datetime | None = None
) -> list[dict]:
    """Plans → one saas_subscriptions_daily row per charge and day of the step, amounts exact."""
    rows = []
    for plan in plans:
        for row in daily_charges(plan, ctx.start_date, ctx.end_date):
            rows.append(
                {
                    **row,
                    **{c: to_numeric(row[c]) for c in MONEY_COLUMNS},
                    "tags": json.dumps(row["tags"], sort_keys=True),
                }
            )
    return finish_rows(rows, KEY, COLUMNS, ctx, ingested_at)


FOCUS_COLUMNS = {
    "BillingAccountId": "@billing_account",
    "BillingCurrency": "currency",
    # The plan's invoices are per cycle; FOCUS's billing period is the calendar month the day falls in, as for
    # the other sources (one period per month in cost_focus).
    "BillingPeriodStart": "TIMESTAMP(DATE_TRUNC(charge_date, MONTH))",
    "BillingPeriodEnd": "TIMESTAMP(DATE_ADD(DATE_TRUNC(charge_date, MONTH), INTERVAL 1 MONTH))",
    "ChargePeriodStart": "TIMESTAMP(charge_date)",
    "ChargePeriodEnd": "TIMESTAMP(DATE_ADD(charge_date, INTERVAL 1 DAY))",
    "ChargeCategory": "'Purchase'",
    "ChargeFrequency": "'Recurring'",
    "ChargeDescription": (
        "CONCAT(product, ' ', plan, IF(charge_kind = 'seat_increase', ' (prorated seat increase)', ''))"
    ),
    "BilledCost": "billed_amount",
    "EffectiveCost": "amount",
    "ListCost": "list_amount",
    "ContractedCost": "amount",
    "PricingQuantity": "CAST(seats AS NUMERIC)",
    "PricingUnit": "'Seats'",
    "ProviderName": "vendor",
    "PublisherName": "vendor",
    "InvoiceIssuerName": "IFNULL(invoice_issuer, vendor)",
    "ServiceCategory": "categories.category",
    "ServiceSubcategory": "categories.subcategory",
    "ServiceName": "product",
    "SubAccountId": "subscription_id",
    "SubAccountName": "CONCAT(vendor, ' ', plan)",
    "SkuId": "plan",
    "Tags": "IF(tags = '{}', NULL, PARSE_JSON(tags))",
    "x_cost_type": "charge_kind",
    "x_source_table": f"'{RAW_TABLE}'",
    "x_source_partition": "charge_date",
    "x_pipeline_logging_id": "@run_id",
    "x_ingested_at": "@ingested_at",
}


def _categories(ctx: StepContext, products: list[str]) -> tuple[str, dict]:
    """A CTE giving each product its (ServiceCategory, ServiceSubcategory) from service_categories.yml."""
    from shared.providers.kit.focus import classify_service

    # Products are the org's free text: they travel as array parameters, never as SQL.
    pairs = [classify_service(ctx.settings.config_dir, PROVIDER.focus, product) for product in products]
    sql = (
        "WITH categories AS (SELECT name, @cats[OFFSET(i)] AS category, @subs[OFFSET(i)] AS subcategory "
        "FROM UNNEST(@names) AS name WITH OFFSET AS i)\n"
    )
    return sql, {"names": products, "cats": [c for c, _ in pairs], "subs": [s for _, s in pairs]}


def build_focus(ctx: StepContext, warehouse) -> int:
    """Replace the SaaS slice of cost_focus (x_source_table, the step's days) by one row per raw row."""
    from datetime import UTC

    from shared.warehouse.schemas import load_table_specs

    spec = load_table_specs(ctx.settings.config_dir, "org")[ctx.destination_table or FOCUS_TABLE]
    raw = warehouse.table_id(ctx.settings.org_dataset(ctx.org_slug), RAW_TABLE)
    where = "WHERE charge_date BETWEEN @slice_start AND @slice_end"
    products = [
        r["product"]
        for r in warehouse.query(
            f"SELECT DISTINCT product FROM `{raw}` {where} ORDER BY product",
            {"slice_start": ctx.start_date, "slice_end": ctx.end_date},
        )
    ]
    ctes, params = _categories(ctx, products)
    select = ctes + focus_select(
        spec, FOCUS_COLUMNS, f"FROM `{raw}` JOIN categories ON categories.name = product {where}"
    )
    params |= {"billing_account": ctx.org_slug, "run_id": ctx.run_id, "ingested_at": datetime.now(UTC)}
    ctx.ensure_time_left(COMMIT_RESERVE_SECONDS, "the FOCUS rows")
    return replace_focus_slice(ctx, warehouse, PROVIDER.focus, select, params, source_table=RAW_TABLE)


PROCESSORS = {
    "saas.plans": Processor(extract=extract_plans, transform=transform_plans),
    "saas.focus": Processor(run=build_focus),
}
