"""What the synthetic GCP export is made of: billing accounts, projects, services and SKUs, fixed rows."""

from __future__ import annotations

import functools

# fmt: off
# (billing_account_id, currency, USD → currency rate). The second one is a sub-account billed in EUR, so the
# export carries two currencies, as a reseller's export does.
ACCOUNTS = (("01A2B3-C4D5E6-F7A8B9", "USD", 1.0), ("01EU00-5A6B7C-8D9E0F", "EUR", 0.9187))
# (id, number, name, labels, account index, region, zones)
PROJECTS = (
    ("acme-web-prod", "318000111", "Acme Web (prod)", {"env": "prod", "team": "web", "cost-center": "cc-100"}, 0,
     "us-central1", ("us-central1-a", "us-central1-b")),
    ("acme-data-prod", "318000222", "Acme Data (prod)", {"env": "prod", "team": "data", "cost-center": "cc-200"}, 0,
     "us-east1", ("us-east1-b", "us-east1-c")),
    ("acme-ml-dev", "318000333", "Acme ML (dev)", {"env": "dev", "team": "ml"}, 0, "us-central1",
     ("us-central1-a",)),
    ("acme-eu-shop", "318000444", "Acme EU Shop", {"env": "prod", "team": "shop", "cost-center": "cc-300"}, 1,
     "europe-west1", ("europe-west1-b", "europe-west1-c")),
)
PROJECT_WEIGHTS = (0.4, 0.3, 0.1, 0.2)
ANCESTRY = "/612345678901/"
COST_TYPES = ("regular", "tax", "adjustment", "rounding_error")
CREDIT_KINDS = (
    "SUSTAINED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT", "PROMOTION", "FREE_TIER", "DISCOUNT",
    "SUBSCRIPTION_BENEFIT", "FEE_UTILIZATION_OFFSET",
)
CREDIT_NAMES = {
    "SUSTAINED_USAGE_DISCOUNT": "Sustained Usage Discount",
    "COMMITTED_USAGE_DISCOUNT": "Committed use discount: CPU",
    "PROMOTION": "Free trial credit",
    "FREE_TIER": "Free tier",
    "DISCOUNT": "Spending based discounts (contractual)",
    "SUBSCRIPTION_BENEFIT": "Subscription benefit",
    "FEE_UTILIZATION_OFFSET": "Fee utilization offset: Compute Flexible CUD",
}
# Spend-based CUDs' new data model: every row names its consumption model; usage a Compute flexible CUD covers is
# priced at the CUD's discount. (id, description) of the default model and of the CUD's.
CONSUMPTION_MODELS = (("D2C2-DEFA-0000", "Default"), ("5F2A-CUD0-1YR0", "Compute Flexible CUD - 1 Year"))
CUD_DISCOUNT = 0.28  # the 1-year Compute flexible CUD's discount off the on-demand price
CUD_SKU = "CP-COMPUTEENGINE-N2-CORE"  # covered by the flexible CUD in the USD account, half of its rows
CUD_SLACK_USD = 0.05  # per hour the commitment exceeds the covered usage: the unused part of the fee
# Resource-based CUD (legacy credit model): an hourly fee; usage it covers carries COMMITTED_USAGE_DISCOUNT credits.
LEGACY_FEE_USD = 0.02
# Resource Manager tags per project: (key, value, inherited, namespace: the organization or the project).
PROJECT_TAGS = (
    (("environment", "production", True, "612345678901"), ("data-class", "internal", False, "acme-web-prod")),
    (("environment", "production", True, "612345678901"),),
    (("environment", "development", True, "612345678901"),),
    (("environment", "production", True, "612345678901"), ("region-lock", "eu", False, "acme-eu-shop")),
)
MARKETPLACE_SELLER = "Elasticsearch B.V."

# Service: (id, description, global?, skus). SKU: (id, description, usage unit, pricing unit, usage units per
# pricing unit, USD per pricing unit, typical pricing units per row, weight, list markup, credit rate, credit kind)
SERVICES = (
    ("6F81-5844-456A", "Compute Engine", False, (
        ("CP-COMPUTEENGINE-N2-CORE", "N2 Instance Core running in Americas", "seconds", "hour", 3600, 0.031611,
         4.0, 30, 0.0, 0.7, "SUSTAINED_USAGE_DISCOUNT"),
        ("CP-COMPUTEENGINE-N2-RAM", "N2 Instance Ram running in Americas", "byte-seconds", "gibibyte hour",
         3865470566400, 0.004237, 16.0, 25, 0.0, 0.6, "COMMITTED_USAGE_DISCOUNT"),
        ("CP-COMPUTEENGINE-PD-SSD", "SSD backed PD Capacity", "byte-seconds", "gibibyte month",
         2822340096000000, 0.17, 0.3, 10, 0.0, 0.0, None),
    )),
    ("95FF-2EF5-5EA1", "Cloud Storage", False, (
        ("GCS-STANDARD-US", "Standard Storage US Multi-region", "byte-seconds", "gibibyte month",
         2822340096000000, 0.026, 20.0, 12, 0.0, 0.1, "FREE_TIER"),
        ("GCS-CLASS-A", "Class A Operations", "requests", "10 thousand requests", 10000, 0.05, 3.0, 6, 0.0, 0.0,
         None),
    )),
    ("24E6-581D-38E5", "BigQuery", True, (
        ("BQ-ANALYSIS", "Analysis", "bytes", "tebibyte", 1099511627776, 6.25, 0.05, 10, 0.1, 0.3, "DISCOUNT"),
        ("BQ-ACTIVE-STORAGE", "Active Logical Storage", "byte-seconds", "gibibyte month", 2822340096000000,
         0.02, 50.0, 4, 0.0, 0.2, "FREE_TIER"),
    )),
    ("9662-B51E-5089", "Cloud SQL", False, (
        ("SQL-CUSTOM-CORE", "Cloud SQL for PostgreSQL: Zonal - vCPU", "seconds", "hour", 3600, 0.0413, 2.0, 6,
         0.0, 0.0, None),
    )),
    ("CCD8-9BF1-090E", "Kubernetes Engine", False, (
        ("GKE-AUTOPILOT-CPU", "Autopilot Pod mCPU Requests", "mCPU-seconds", "vCPU hour", 3600000, 0.0445, 3.0,
         6, 0.0, 0.2, "COMMITTED_USAGE_DISCOUNT"),
    )),
    ("152E-C115-5142", "Cloud Run", False, (
        ("RUN-CPU", "CPU Allocation Time", "vCPU-seconds", "vCPU-second", 1, 0.000024, 2000.0, 5, 0.0, 0.5,
         "FREE_TIER"),
    )),
    ("E505-1604-58F8", "Networking", False, (
        ("NET-EGRESS-INTERZONE", "Network Inter Zone Data Transfer Out", "bytes", "gibibyte", 1073741824, 0.01,
         40.0, 8, 0.0, 0.0, None),
    )),
    ("5490-F7B7-8DF6", "Cloud Logging", True, (
        ("LOG-VOLUME", "Log Volume", "bytes", "gibibyte", 1073741824, 0.5, 0.4, 4, 0.0, 0.0, None),
    )),
    ("C7E2-9256-1C43", "Vertex AI", False, (
        ("VAI-GEMINI-FLASH-IN", "Gemini 2.0 Flash Input Text", "count", "1k characters", 1000, 0.0000375,
         5000.0, 4, 0.0, 0.4, "PROMOTION"),
    )),
    ("A1B2-ELAS-TIC0", "Elastic Cloud (Elasticsearch Service)", True, (
        ("ELASTIC-CLOUD-UNIT", "Elastic Cloud usage", "count", "count", 1, 0.00105, 300.0, 2, 0.0, 0.0, None),
    )),
    ("6F81-5844-456A", "Compute Engine", True, (
        ("CUD-FLEX-FEE-1Y", "Commitment fee: Compute Flexible CUD - 1 Year", "dollar", "dollar", 1, 1.0, 0.0, 0,
         0.0, 0.0, None),
        ("CUD-V1-CPU-1Y", "Commitment v1: CPU in Americas for 1 Year", "seconds", "hour", 3600, 0.02, 0.0, 0,
         0.0, 0.0, None),
    )),
    ("0000-TAX0-0000", "Invoice", True, (
        ("0000-TAX0-VAT0", "Tax: VAT", None, None, 1, 0.0, 0.0, 0, 0.0, 0.0, None),
        ("0000-RND0-0000", "Rounding error", None, None, 1, 0.0, 0.0, 0, 0.0, 0.0, None),
    )),
)
# fmt: on
MARKETPLACE_SERVICE = "A1B2-ELAS-TIC0"
TAX_SKU, ROUNDING_SKU, ADJUSTED_SKU = "0000-TAX0-VAT0", "0000-RND0-0000", "CP-COMPUTEENGINE-N2-CORE"
FLEX_FEE_SKU, LEGACY_FEE_SKU = "CUD-FLEX-FEE-1Y", "CUD-V1-CPU-1Y"
TAX_RATE = 0.08


@functools.cache
def skus() -> tuple[tuple, ...]:
    """Every SKU with its service: (service_id, service_description, is_global, *sku fields)."""
    return tuple((sid, desc, is_global, *sku) for sid, desc, is_global, items in SERVICES for sku in items)


@functools.cache
def sku_table() -> dict:
    """SKU attributes as numpy arrays indexed by SKU number (what the vectorised generator needs)."""
    import numpy as np

    rows = skus()
    kinds = [CREDIT_KINDS.index(r[13]) if r[13] else -1 for r in rows]
    return {
        "unit_factor": np.array([r[7] for r in rows], dtype=np.float64),
        "price_micros": np.array([r[8] * 1_000_000 for r in rows], dtype=np.float64),
        "typical_qty": np.array([r[9] for r in rows], dtype=np.float64),
        "weight": np.array([r[10] for r in rows], dtype=np.float64),
        "list_markup": np.array([r[11] for r in rows], dtype=np.float64),
        "credit_rate": np.array([r[12] for r in rows], dtype=np.float64),
        "credit_kind": np.array(kinds, dtype=np.int64),
    }


def sku_index(sku_id: str) -> int:
    """The SKU number of a SKU id."""
    return [r[3] for r in skus()].index(sku_id)


def append_fixed_rows(rows: dict, spec, rng) -> dict:
    """Add a tax row per project and day, an adjustment per day and a rounding row per account and day."""
    import numpy as np

    days, n_projects = spec.days, len(PROJECTS)
    # Tax: TAX_RATE of each project's usage cost of the day (micros, rounded like an invoice line).
    daily = np.zeros((days, n_projects), dtype=np.int64)
    np.add.at(daily, (rows["day"], rows["project"]), rows["cost_usd"])
    tax_day, tax_project = np.divmod(np.arange(days * n_projects), n_projects)
    tax_cost = np.round(daily.ravel() * TAX_RATE).astype(np.int64)
    # Adjustment: a usage correction of 1-5% of one project's day, negative (a refund).
    adj_project = rng.integers(0, n_projects, size=days)
    adj_cost = -np.round(daily[np.arange(days), adj_project] * rng.uniform(0.01, 0.05, size=days)).astype(
        np.int64
    )
    rnd_day, rnd_project = np.arange(days), np.zeros(days, dtype=np.int64)
    rnd_cost = rng.integers(-9, 10, size=days)
    parts = [
        (tax_day, tax_project, sku_index(TAX_SKU), tax_cost, COST_TYPES.index("tax")),
        (np.arange(days), adj_project, sku_index(ADJUSTED_SKU), adj_cost, COST_TYPES.index("adjustment")),
        (rnd_day, rnd_project, sku_index(ROUNDING_SKU), rnd_cost, COST_TYPES.index("rounding_error")),
    ]
    out = {key: [value] for key, value in rows.items() if key != "n"}
    for day, project, sku, cost, cost_type in parts:
        k = len(day)
        extra = {
            "sku": np.full(k, sku),
            "project": project,
            "day": day,
            "hour": np.zeros(k, dtype=np.int64),
            "pricing_qty": np.zeros(k),
            "usage_qty": np.zeros(k),
            "cost_usd": cost,
            "list_usd": cost,
            "cost_type": np.full(k, cost_type),
            "covered": np.zeros(k, dtype=bool),
            "offset_usd": np.zeros(k, dtype=np.int64),
        }
        for key, value in extra.items():
            out[key].append(value)
    merged = {key: np.concatenate(values) for key, values in out.items()}
    merged["n"] = len(merged["sku"])
    return merged


def append_commitment_rows(rows: dict, spec, rng) -> dict:
    """Spend-based CUD (new model): half the USD account's N2 core rows priced at the CUD's discount, and per hour
    a fee row of the commitment ($1 units: the covered cost plus CUD_SLACK_USD) with a FEE_UTILIZATION_OFFSET of
    the covered cost. Resource-based CUD (legacy): per hour a fee row. Fees are billed to the first project."""
    import numpy as np

    usd = np.array([ACCOUNTS[p[4]][1] == "USD" for p in PROJECTS])[rows["project"]]
    regular = rows["cost_type"] == COST_TYPES.index("regular")
    covered = regular & usd & (rows["sku"] == sku_index(CUD_SKU)) & (rng.random(rows["n"]) < 0.5)
    rows = dict(rows, covered=covered, default_usd=rows["cost_usd"].copy())
    rows["cost_usd"] = np.where(
        covered, np.round(rows["cost_usd"] * (1 - CUD_DISCOUNT)), rows["cost_usd"]
    ).astype(np.int64)
    hours = spec.days * 24
    used = np.zeros(hours, dtype=np.int64)
    np.add.at(used, rows["day"][covered] * 24 + rows["hour"][covered], rows["cost_usd"][covered])
    flex_fee = used + round(CUD_SLACK_USD * 1_000_000)
    legacy_fee = np.full(hours, round(LEGACY_FEE_USD * 1_000_000), dtype=np.int64)
    hour_of = np.arange(hours)
    extra = {
        "sku": np.concatenate(
            [np.full(hours, sku_index(FLEX_FEE_SKU)), np.full(hours, sku_index(LEGACY_FEE_SKU))]
        ),
        "project": np.zeros(2 * hours, dtype=np.int64),
        "day": np.concatenate([hour_of // 24, hour_of // 24]),
        "hour": np.concatenate([hour_of % 24, hour_of % 24]),
        "pricing_qty": np.concatenate([flex_fee / 1_000_000, np.ones(hours)]),
        "usage_qty": np.concatenate([flex_fee / 1_000_000, np.full(hours, 3600.0)]),
        "cost_usd": np.concatenate([flex_fee, legacy_fee]),
        "list_usd": np.concatenate([flex_fee, legacy_fee]),
        "default_usd": np.concatenate([flex_fee, legacy_fee]),
        "cost_type": np.zeros(2 * hours, dtype=np.int64),
        "covered": np.zeros(2 * hours, dtype=bool),
        "offset_usd": np.concatenate([-used, np.zeros(hours, dtype=np.int64)]),
    }
    merged = {key: np.concatenate([rows[key], extra[key]]) for key in extra}
    merged["n"] = len(merged["sku"])
    return merged
