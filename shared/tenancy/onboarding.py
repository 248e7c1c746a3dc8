"""Admin operations behind `dps`: bootstrap the central dataset, onboard orgs, issue keys, store credentials."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from shared.platform.clients import make_bigquery_client, make_kms_client
from shared.platform.identifiers import PLANS, SUBSCRIPTION_STATUSES, is_org_slug
from shared.platform.settings import Settings, central_table
from shared.providers.registry import PROVIDERS
from shared.runs.admission import ensure_quota_row
from shared.tenancy import keys
from shared.warehouse.adapter import Typed, Warehouse
from shared.warehouse.schemas import load_table_specs


class AdminError(ValueError):
    """An admin command cannot be done as asked; the message says what to change."""


def _warehouse(settings: Settings) -> Warehouse:
    return Warehouse(make_bigquery_client(settings), settings.project)


def bootstrap(settings: Settings) -> list[str]:
    """Create the central dataset and its tables from configs/schemas/organizations (idempotent)."""
    warehouse = _warehouse(settings)
    warehouse.ensure_dataset(settings.central_dataset, settings.bigquery_location)
    specs = load_table_specs(settings.config_dir, "organizations")
    for spec in specs.values():
        warehouse.ensure_table(settings.central_dataset, spec)
    return sorted(specs)


def ensure_org_dataset(settings: Settings, warehouse: Warehouse, slug: str) -> str:
    """Create the org's dataset and its per-provider tables (idempotent); returns the dataset id."""
    dataset = settings.org_dataset(slug)
    warehouse.ensure_dataset(dataset, settings.bigquery_location)
    # One listing instead of a create attempt per table: every run calls this, and most tables exist.
    existing = {table.table_id for table in warehouse.client.list_tables(f"{settings.project}.{dataset}")}
    for spec in load_table_specs(settings.config_dir, "org").values():
        if spec.name not in existing:
            warehouse.ensure_table(dataset, spec)
    return dataset


def org_exists(settings: Settings, slug: str) -> bool:
    """True when the org has a profile row."""
    rows = _warehouse(settings).query(
        f"SELECT COUNT(*) AS n FROM `{central_table(settings, 'org_profiles')}` WHERE org_slug = @slug",
        {"slug": slug},
    )
    return rows[0]["n"] > 0


def _check_org_args(slug: str, plan: str, status: str) -> None:
    if not is_org_slug(slug):
        raise AdminError(f"org slug {slug!r} must match [a-z][a-z0-9_]{{2,49}}")
    if plan not in PLANS:
        raise AdminError(f"plan {plan!r} is not one of {', '.join(PLANS)}")
    if status not in SUBSCRIPTION_STATUSES:
        raise AdminError(f"status {status!r} is not one of {', '.join(SUBSCRIPTION_STATUSES)}")


def create_org(settings: Settings, slug: str, plan: str, status: str, org_name: str | None = None) -> dict:
    """Onboard an org; returns {"org_slug", "api_key", "api_key_id", "plan", "status", "dataset"}."""
    _check_org_args(slug, plan, status)
    if org_exists(settings, slug):
        raise AdminError(f"org {slug!r} already exists; use `dps org key {slug}` for a new API key")
    warehouse = _warehouse(settings)
    now = datetime.now(UTC)
    # One transaction: an org is either fully onboarded (profile, subscription) or not at all.
    warehouse.execute(
        f"""
        BEGIN TRANSACTION;
        INSERT INTO `{central_table(settings, "org_profiles")}` (org_slug, org_name, created_at, updated_at)
        VALUES (@slug, @name, @now, @now);
        INSERT INTO `{central_table(settings, "org_subscriptions")}` (org_slug, plan, status, created_at, updated_at)
        VALUES (@slug, @plan, @status, @now, @now);
        COMMIT TRANSACTION;
        """,
        {"slug": slug, "name": Typed(org_name or slug, "STRING"), "plan": plan, "status": status, "now": now},
    )
    ensure_quota_row(warehouse, settings, slug)
    dataset = ensure_org_dataset(settings, warehouse, slug)
    issued = issue_api_key(settings, slug)
    return {**issued, "plan": plan, "status": status, "dataset": dataset}


def issue_api_key(settings: Settings, slug: str, expires_at: datetime | None = None) -> dict:
    """A new API key for an existing org; returns {"org_slug", "api_key", "api_key_id"}. Shown only once."""
    api_key = keys.new_api_key()
    api_key_id = str(uuid.uuid4())
    _warehouse(settings).execute(
        f"""
        INSERT INTO `{central_table(settings, "org_api_keys")}`
          (api_key_id, org_slug, key_hash, key_prefix, is_active, expires_at, created_at, revoked_at)
        VALUES (@id, @slug, @hash, @prefix, TRUE, @expires_at, @now, NULL)
        """,
        {
            "id": api_key_id,
            "slug": slug,
            "hash": keys.hash_api_key(api_key, settings.key_pepper),
            "prefix": api_key[:10],
            "expires_at": Typed(expires_at, "TIMESTAMP"),
            "now": datetime.now(UTC),
        },
    )
    return {"org_slug": slug, "api_key": api_key, "api_key_id": api_key_id}


def revoke_api_key(settings: Settings, slug: str, api_key_id: str) -> None:
    """Deactivate one of the org's API keys (instances stop accepting it within the auth cache bound)."""
    changed = _warehouse(settings).execute(
        f"UPDATE `{central_table(settings, 'org_api_keys')}` SET is_active = FALSE, revoked_at = @now "
        "WHERE org_slug = @slug AND api_key_id = @id AND is_active",
        {"slug": slug, "id": api_key_id, "now": datetime.now(UTC)},
    )
    if not changed:
        raise AdminError(f"org {slug!r} has no active API key {api_key_id!r}")


def set_subscription_status(settings: Settings, slug: str, status: str) -> None:
    """Change an org's subscription status (e.g. to SUSPENDED)."""
    if status not in SUBSCRIPTION_STATUSES:
        raise AdminError(f"status {status!r} is not one of {', '.join(SUBSCRIPTION_STATUSES)}")
    changed = _warehouse(settings).execute(
        f"UPDATE `{central_table(settings, 'org_subscriptions')}` SET status = @status, updated_at = @now "
        "WHERE org_slug = @slug",
        {"status": status, "slug": slug, "now": datetime.now(UTC)},
    )
    if not changed:
        raise AdminError(f"org {slug!r} has no subscription; create the org first")


def _check_metadata(settings: Settings, provider: str, secret: str, metadata: dict) -> None:
    """Refuse at onboarding what a run would refuse later: a base_url outside the allow-list; for gcp, a secret
    that is not a service-account key or a billing_export_table that is not exactly an export table id."""
    from shared.platform.errors import TerminalError
    from shared.providers.kit.egress import resolve_base_url

    if "base_url" in metadata:
        try:
            # Validated as a run would: the default only matters when base_url is absent, so any provider's does.
            default = settings.anthropic_base_url if provider == "anthropic" else settings.openai_base_url
            resolve_base_url(metadata["base_url"], default, settings)
        except TerminalError as error:
            raise AdminError(f"metadata.base_url: {error.message}") from None
    if provider == "gcp":
        from shared.providers.gcp.source import parse_export_table, service_account_info

        try:
            parse_export_table(metadata.get("billing_export_table"))
            service_account_info(secret)
        except TerminalError as error:
            raise AdminError(error.message) from None


def set_credential(
    settings: Settings, slug: str, provider: str, secret: str, metadata: dict | None = None
) -> dict:
    """Store (replace) the org's credential for a provider, encrypted with KMS; the secret is never stored plain."""
    if provider not in PROVIDERS:
        raise AdminError(f"provider {provider!r} is not one of {', '.join(PROVIDERS)}")
    if not secret.strip():
        raise AdminError("the secret is empty")
    _check_metadata(settings, provider, secret.strip(), metadata or {})
    if not org_exists(settings, slug):
        raise AdminError(f"org {slug!r} does not exist; create it first with `dps org create`")
    ciphertext = keys.encrypt_secret(make_kms_client(settings), settings.kms_key_name, secret.strip())
    credential_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    table = central_table(settings, "org_integration_credentials")
    # Replace in one transaction so there is never a moment with zero or two active credentials.
    _warehouse(settings).execute(
        f"""
        BEGIN TRANSACTION;
        DELETE FROM `{table}` WHERE org_slug = @slug AND provider = @provider;
        INSERT INTO `{table}` (credential_id, org_slug, provider, encrypted_secret, kms_key_name, metadata,
                               is_active, created_at, updated_at)
        VALUES (@id, @slug, @provider, @secret, @key_name, PARSE_JSON(@metadata), TRUE, @now, @now);
        COMMIT TRANSACTION;
        """,
        {
            "id": credential_id,
            "slug": slug,
            "provider": provider,
            "secret": ciphertext,
            "key_name": settings.kms_key_name,
            "metadata": json.dumps(metadata or {}),
            "now": now,
        },
    )
    return {
        "org_slug": slug,
        "provider": provider,
        "credential_id": credential_id,
        "metadata": metadata or {},
    }


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
    from decimal import Decimal

    from shared.pricing.price_table import RATE_TYPES, TIERS

    if provider not in ("openai", "anthropic"):
        raise AdminError("price overrides are for the LLM providers: openai, anthropic")
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
    warehouse = _warehouse(settings)
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
