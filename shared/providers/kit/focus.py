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
# FOCUS 1.2 ServiceCategory → its allowed ServiceSubcategory values (specification/columns/servicesubcategory.md).
SERVICE_SUBCATEGORIES = {
    "AI and Machine Learning": (
        "AI Platforms",
        "Bots",
        "Generative AI",
        "Machine Learning",
        "Natural Language Processing",
    ),
    "Analytics": (
        "Analytics Platforms",
        "Business Intelligence",
        "Data Processing",
        "Search",
        "Streaming Analytics",
    ),
    "Business Applications": ("Productivity and Collaboration",),
    "Compute": (
        "Containers",
        "End User Computing",
        "Quantum Compute",
        "Serverless Compute",
        "Virtual Machines",
    ),
    "Databases": (
        "Caching",
        "Data Warehouses",
        "Ledger Databases",
        "NoSQL Databases",
        "Relational Databases",
        "Time Series Databases",
    ),
    "Developer Tools": (
        "Developer Platforms",
        "Continuous Integration and Deployment",
        "Development Environments",
        "Source Code Management",
        "Quality Assurance",
    ),
    "Identity": ("Identity and Access Management",),
    "Integration": ("API Management", "Messaging", "Workflow Orchestration"),
    "Internet of Things": ("IoT Analytics", "IoT Platforms"),
    "Management and Governance": (
        "Architecture",
        "Compliance",
        "Cost Management",
        "Data Governance",
        "Disaster Recovery",
        "Endpoint Management",
        "Observability",
        "Support",
    ),
    "Media": ("Content Creation", "Gaming", "Media Streaming", "Mixed Reality"),
    "Migration": ("Data Migration", "Resource Migration"),
    "Mobile": (),
    "Multicloud": ("Multicloud Integration",),
    "Networking": (
        "Application Networking",
        "Content Delivery",
        "Network Connectivity",
        "Network Infrastructure",
        "Network Routing",
        "Network Security",
    ),
    "Security": ("Secret Management", "Security Posture Management", "Threat Detection and Response"),
    "Storage": (
        "Backup Storage",
        "Block Storage",
        "File Storage",
        "Object Storage",
        "Storage Platforms",
    ),
    "Web": ("Application Platforms",),
    "Other": (),
}
# Every category also has "Other (<category>)".
SERVICE_CATEGORIES = tuple(SERVICE_SUBCATEGORIES)
Classification = tuple[str, str]  # (ServiceCategory, ServiceSubcategory)


def other_subcategory(category: str) -> str:
    """The catch-all ServiceSubcategory of a ServiceCategory: "Other (<category>)"."""
    return f"Other ({category})"


def _classification(where: str, value: object) -> Classification:
    """A [category, subcategory] pair from service_categories.yml (or a bare category: its "Other" subcategory),
    checked against FOCUS's allowed values and parents."""
    category, subcategory = (value, None) if isinstance(value, str) else tuple(value)
    subcategory = subcategory or other_subcategory(category)
    allowed = (*SERVICE_SUBCATEGORIES.get(category, ()), other_subcategory(category))
    if category not in SERVICE_SUBCATEGORIES or subcategory not in allowed:
        raise ValueError(f"service_categories.yml {where}: not a FOCUS category and subcategory: {value}")
    return category, subcategory


@functools.cache
def service_classes(config_dir: Path, provider: str) -> tuple[dict[str, Classification], Classification]:
    """(ServiceName → (ServiceCategory, ServiceSubcategory), default) of one provider, from
    configs/focus/service_categories.yml."""
    raw = yaml.safe_load((Path(config_dir) / "focus" / "service_categories.yml").read_text())
    mapping = {
        name: _classification(f"{provider}/{name}", value)
        for name, value in (raw["providers"].get(provider) or {}).items()
    }
    return mapping, _classification("default", raw["default"])


def classify_service(config_dir: Path, identity, service_name: str) -> Classification:
    """(ServiceCategory, ServiceSubcategory) of one of a provider's services: its own declaration
    (`FocusIdentity.service_categories`) first, then the shared file, then the default."""
    if service_name in identity.service_categories:
        return _classification(service_name, identity.service_categories[service_name])
    mapping, default = service_classes(config_dir, identity.provider_name)
    return mapping.get(service_name, default)


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
        "ServiceSubcategory": "@subcategory",
        "ServiceName": "@service",
        "x_source_table": f"'{source_table}'",
        "x_source_partition": day,
        "x_pipeline_logging_id": "@run_id",
        "x_ingested_at": "@ingested_at",
    }


def focus_parameters(ctx, identity, service_name: str) -> dict:
    """The query parameters `daily_usage_columns` names: the org's billing account (the provider's report names
    none; the org's account with it is the credential's, so the org slug), the FOCUS identity, the run."""
    category, subcategory = classify_service(ctx.settings.config_dir, identity, service_name)
    return {
        "billing_account": ctx.org_slug,
        "provider": identity.provider_name,
        "publisher": identity.publisher,
        "invoice_issuer": identity.invoice_issuer,
        "service": service_name,
        "category": category,
        "subcategory": subcategory,
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


def replace_focus_slice(
    ctx, warehouse, identity, select_sql: str, params: dict, source_table: str | None = None
) -> int:
    """Replace the provider's slice of cost_focus (its ProviderName, the step's days) by `select_sql`'s rows in one
    transaction; returns the rows the slice holds now. A provider whose rows name their own ProviderName
    (`identity.names_per_row`) names its slice by the raw table the rows come from, `source_table`."""
    from shared.warehouse.schemas import load_table_specs

    spec = load_table_specs(ctx.settings.config_dir, "org")[ctx.destination_table or FOCUS_TABLE]
    if identity.names_per_row and not source_table:
        raise ValueError(f"{identity.provider_name}'s rows name their own ProviderName: give source_table")
    ctx.ensure_time_left(COMMIT_RESERVE_SECONDS, "the FOCUS rows")
    return warehouse.replace_slice_with_query(
        ctx.settings.org_dataset(ctx.org_slug),
        spec,
        select_sql,
        params,
        ctx.start_date,
        ctx.end_date,
        match=(
            {"x_source_table": source_table}
            if identity.names_per_row
            else {"ProviderName": identity.provider_name}
        ),
    )
