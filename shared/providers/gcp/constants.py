"""GCP billing export: naming rules, incremental windows, query limits and FOCUS constants (no I/O)."""

from __future__ import annotations

import re

# A fully qualified export table: project (6-30 chars, the GCP rule), dataset, and Google's export table name.
# Strict on purpose: the id is interpolated into SQL (identifiers cannot be query parameters), so nothing but these
# characters may ever reach a query. Domain-scoped projects ("example.com:proj") are not accepted.
EXPORT_TABLE = re.compile(
    r"(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])\."
    r"(?P<dataset>[A-Za-z0-9_]{1,1024})\."
    r"(?P<table>gcp_billing_export_(?P<kind>resource_)?v1_[0-9A-F]{6}_[0-9A-F]{6}_[0-9A-F]{6})"
)
METADATA_KEY = "billing_export_table"
# How the pipeline reads the export (credential metadata `access`): "key", the org's service-account key (stored
# encrypted; rows pulled through the function), or "granted", the org granted the gcp function's own service account
# read access (nothing secret stored; the transform runs as SQL inside BigQuery).
ACCESS_KEY = "access"
ACCESS_MODES = ("key", "granted")
GRANTED = "granted"
READER_ROLE = "roles/bigquery.dataViewer"

# Incremental window: the requested days plus LOOKBACK_DAYS before them (Google keeps restating recent days), and
# the whole previous invoice month while the requested end is within its first PREVIOUS_MONTH_DAYS days (the
# invoice closes in the first days of the next month, with its final corrections).
LOOKBACK_DAYS = 3
PREVIOUS_MONTH_DAYS = 5

# Upper bound on bytes one source query may bill the customer; a query above it fails instead of costing money.
# The stats query reads export_time only; the rows query reads the changed partitions' columns.
MAX_BYTES_BILLED = 200 * 1024**3
# Memory bounds whatever the export's size: one source query reads whole partitions up to about READ_CHUNK_ROWS
# rows (by the stats), transformed as one table and appended to the stages (Storage Write API) before the next.
READ_CHUNK_ROWS = 100_000
# A step must leave this many seconds to commit in; past it, it stops before its transaction (transient).
COMMIT_RESERVE_SECONDS = 20.0

PROVIDER_NAME = "Google Cloud"
SOURCE_SCOPES = ("https://www.googleapis.com/auth/bigquery",)
# Export columns a run can do without (older exports lack them): they are read as typed NULLs when absent.
OPTIONAL_COLUMNS = {
    "system_labels": "ARRAY<STRUCT<key STRING, value STRING>>",
    "adjustment_info": "STRUCT<id STRING, description STRING, mode STRING, type STRING>",
    "cost_at_list": "FLOAT64",
    "transaction_type": "STRING",
    "seller_name": "STRING",
    "resource": "STRUCT<name STRING, global_name STRING>",
    "price": "STRUCT<effective_price NUMERIC, tier_start_amount NUMERIC, unit STRING, pricing_unit_quantity NUMERIC>",
    # Spend-based CUDs' new data model: the row's consumption model, and its cost at the default (non-CUD)
    # consumption model's effective price: `cost` is at the CUD's discounted price for covered usage.
    "consumption_model": "STRUCT<id STRING, description STRING>",
    "cost_at_effective_price_default": "FLOAT64",
    # Resource Manager tags the resource carries or inherits (namespace: the organization or project).
    "tags": "ARRAY<STRUCT<key STRING, value STRING, inherited BOOL, namespace STRING>>",
}
# Credit types (export `credits.type`) grouped into the FOCUS table's x_credits_* columns; others go to _other.
CREDIT_GROUPS = {
    # FEE_UTILIZATION_OFFSET: the new CUD model's credit on a commitment fee for the part of it the covered usage
    # (already at the discounted price) used; a committed-use credit, not "other".
    "x_credits_committed_use": (
        "COMMITTED_USAGE_DISCOUNT",
        "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE",
        "FEE_UTILIZATION_OFFSET",
    ),
    "x_credits_sustained_use": ("SUSTAINED_USAGE_DISCOUNT",),
    "x_credits_promotion": ("PROMOTION", "FREE_TIER"),
    "x_credits_discount": ("DISCOUNT", "SUBSCRIPTION_BENEFIT", "RESELLER_MARGIN"),
}
