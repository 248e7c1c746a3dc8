"""Per-org LLM price overrides: negotiated rates and discounts, dated, in the org's llm_price_overrides table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from shared.platform.clients import make_bigquery_client
from shared.platform.settings import Settings
from shared.pricing.price_table import RATE_TYPES, TIERS
from shared.tenancy.onboarding import AdminError, org_exists
from shared.warehouse.adapter import Warehouse
from shared.warehouse.datasets import ensure_org_dataset
from shared.warehouse.params import Typed


def add_price_override(
    settings: Settings,
    slug: str,
    provider: str,
    effective_from,
    *,
    usd_per_million=None,
    discount_fraction=None,
    model: str | None = None,
    service_tier: str | None = None,
    rate_type: str | None = None,
    effective_to=None,
    note: str | None = None,
) -> dict:
    """Record an org's negotiated LLM price (an absolute rate or a discount off list) in its llm_price_overrides."""
    from shared.providers.registry import PROVIDERS

    llm_providers = [name for name, spec in PROVIDERS.items() if spec.llm_pricing]
    if provider not in llm_providers:
        raise AdminError(f"price overrides are for the LLM providers: {', '.join(llm_providers)}")
    if (usd_per_million is None) == (discount_fraction is None):
        raise AdminError("give exactly one of --rate (USD per 1M) or --discount (fraction, 0.15 = 15% off)")
    if usd_per_million is not None and Decimal(usd_per_million) < 0:
        raise AdminError("--rate must not be negative")
    if discount_fraction is not None and not 0 <= Decimal(discount_fraction) <= 1:
        raise AdminError("--discount is a fraction between 0 and 1")
    if service_tier not in (None, *TIERS) or rate_type not in (None, *RATE_TYPES, "web_search"):
        raise AdminError(
            f"tier must be one of {', '.join(TIERS)}; rate one of {', '.join(RATE_TYPES)}, web_search"
        )
    if effective_to is not None and effective_to <= effective_from:
        raise AdminError("--to must be after --from (it is exclusive)")
    if not org_exists(settings, slug):
        raise AdminError(f"org {slug!r} does not exist; create it first with `dps org create`")
    warehouse = Warehouse(make_bigquery_client(settings), settings.project)
    dataset = ensure_org_dataset(settings, warehouse, slug)
    override = {
        "override_id": str(uuid.uuid4()),
        "provider": provider,
        "model": model,
        "service_tier": service_tier,
        "rate_type": rate_type,
        "usd_per_million": None if usd_per_million is None else Decimal(usd_per_million),
        "discount_fraction": None if discount_fraction is None else Decimal(discount_fraction),
        "effective_from": effective_from,
        "effective_to": effective_to,
        "note": note,
        "created_at": datetime.now(UTC),
    }
    types = {"usd_per_million": "NUMERIC", "discount_fraction": "NUMERIC", "effective_to": "DATE"}
    params = {k: Typed(v, types.get(k, "STRING")) if v is None else v for k, v in override.items()}
    columns = ", ".join(override)
    warehouse.execute(
        f"INSERT INTO `{warehouse.table_id(dataset, 'llm_price_overrides')}` ({columns}) "
        f"VALUES ({', '.join('@' + k for k in override)})",
        params,
    )
    return override
