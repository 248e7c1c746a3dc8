"""What every provider's FOCUS mapping shares: the cost_focus table, FOCUS's allowed values, ServiceCategory data,
and the SQL row builder of providers whose FOCUS rows are computed in the warehouse."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import yaml

FOCUS_TABLE = "cost_focus"
COMMIT_RESERVE_SECONDS = 5.0  # a FOCUS slice is one DELETE and one INSERT ... SELECT over a few days
# FOCUS 1.2 allowed values (specification/columns/*.md); the conformance test checks rows against these too.
CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)


@functools.cache
def service_categories(config_dir: Path, provider: str) -> tuple[dict[str, str], str]:
    """(ServiceName → ServiceCategory, default) of one provider, from configs/focus/service_categories.yml."""
    raw = yaml.safe_load((Path(config_dir) / "focus" / "service_categories.yml").read_text())
    mapping = dict(raw["providers"].get(provider, {}))
    unknown = sorted(set(mapping.values()) - set(SERVICE_CATEGORIES))
    if unknown or raw["default"] not in SERVICE_CATEGORIES:
        raise ValueError(f"service_categories.yml: not FOCUS service categories: {unknown or raw['default']}")
    return mapping, raw["default"]


def focus_select(spec, columns: Mapping[str, str], source: str) -> str:
    """`SELECT <expr> AS <column>, ... FROM <source>` over every column of cost_focus (`spec`), in the table's
    order: the provider's expression where it gives one, a typed NULL elsewhere. KeyError for a column the table
    does not have, so a mapping cannot drift from the schema unnoticed."""
    unknown = sorted(set(columns) - set(spec.column_names))
    if unknown:
        raise KeyError(f"{spec.name} has no columns {unknown}")
    select = ",\n      ".join(
        f"{columns[c.name]} AS {c.name}" if c.name in columns else f"CAST(NULL AS {c.type}) AS {c.name}"
        for c in spec.columns
    )
    return f"SELECT\n      {select}\n    {source}"


def daily_usage_columns(day: str, amount: str, currency: str, source_table: str) -> dict[str, str]:
    """FOCUS expressions shared by providers that bill usage per UTC day and invoice calendar months in UTC
    (OpenAI, Anthropic): the periods, the charge kind, the bill, who sold it, and lineage. `day`, `amount` and
    `currency` are SQL expressions of the source row; the identity comes from `focus_parameters`."""
    month = f"DATE_TRUNC({day}, MONTH)"
    return {
        "BillingAccountId": "@billing_account",
        "BillingCurrency": currency,
        "BillingPeriodStart": f"TIMESTAMP({month})",
        "BillingPeriodEnd": f"TIMESTAMP(DATE_ADD({month}, INTERVAL 1 MONTH))",
        "ChargePeriodStart": f"TIMESTAMP({day})",
        "ChargePeriodEnd": f"TIMESTAMP(DATE_ADD({day}, INTERVAL 1 DAY))",
        "ChargeCategory": "'Usage'",
        "ChargeFrequency": "'Usage-Based'",
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ProviderName": "@provider",
        "PublisherName": "@publisher",
        "InvoiceIssuerName": "@invoice_issuer",
        "ServiceCategory": "@category",
        "ServiceName": "@service",
        "x_source_table": f"'{source_table}'",
        "x_source_partition": day,
        "x_pipeline_logging_id": "@run_id",
        "x_ingested_at": "@ingested_at",
    }


def focus_parameters(ctx, identity, service_name: str) -> dict:
    """The query parameters `daily_usage_columns` names: the org's billing account (the provider's report names
    none; the org's account with it is the credential's, so the org slug), the FOCUS identity, the run."""
    categories, default = service_categories(ctx.settings.config_dir, identity.provider_name)
    categories = {**categories, **identity.service_categories}
    return {
        "billing_account": ctx.org_slug,
        "provider": identity.provider_name,
        "publisher": identity.publisher,
        "invoice_issuer": identity.invoice_issuer,
        "service": service_name,
        "category": categories.get(service_name, default),
        "run_id": ctx.run_id,
        "ingested_at": datetime.now(UTC),
    }


def focus_step(provider, service_name: str, columns: Mapping[str, str], source) -> object:
    """A `run` processor replacing `provider`'s slice of cost_focus with one row per row of its source:
    `source(dataset)` gives (the WITH clauses, the FROM clause) over the org's dataset; `columns` the FOCUS
    expressions (usually `daily_usage_columns(...)` and the provider's own)."""

    def build_focus(ctx, warehouse) -> int:
        from shared.warehouse.schemas import load_table_specs

        spec = load_table_specs(ctx.settings.config_dir, "org")[ctx.destination_table or FOCUS_TABLE]
        ctes, from_sql = source(f"{warehouse.project}.{ctx.settings.org_dataset(ctx.org_slug)}")
        params = focus_parameters(ctx, provider.focus, service_name)
        select = ctes + focus_select(spec, columns, from_sql)
        return replace_focus_slice(ctx, warehouse, provider.focus, select, params)

    return build_focus


def replace_focus_slice(ctx, warehouse, identity, select_sql: str, params: dict) -> int:
    """Replace the provider's slice of cost_focus (its ProviderName, the step's days) by `select_sql`'s rows in one
    transaction; returns the rows the slice holds now."""
    from shared.warehouse.schemas import load_table_specs

    spec = load_table_specs(ctx.settings.config_dir, "org")[ctx.destination_table or FOCUS_TABLE]
    ctx.ensure_time_left(COMMIT_RESERVE_SECONDS, "the FOCUS rows")
    return warehouse.replace_slice_with_query(
        ctx.settings.org_dataset(ctx.org_slug),
        spec,
        select_sql,
        params,
        ctx.start_date,
        ctx.end_date,
        match={"ProviderName": identity.provider_name},
    )
