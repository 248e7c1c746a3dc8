"""Onboarding (the admin operations behind `dps`; in production a separate service writes the same rows): orgs,
their subscriptions, API keys and provider credentials."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.platform.clients import make_bigquery_client, make_kms_client
from shared.platform.errors import TerminalError
from shared.platform.identifiers import is_org_slug
from shared.platform.settings import Settings, central_table
from shared.tenancy import api_keys, auth, key_index
from shared.tenancy.credentials import store_credential
from shared.tenancy.subscriptions import SUBSCRIPTION_STATUSES, load_plans, subscription_refusal
from shared.warehouse.adapter import Warehouse
from shared.warehouse.datasets import bootstrap_central, ensure_org_dataset
from shared.warehouse.params import Typed


class AdminError(ValueError):
    """An admin command cannot be done as asked; the message says what to change."""


# The Firestore key index (shared/tenancy/key_index.py) follows every change made here, in an order chosen so that a
# failure between the two stores errs on the side of refusing: a restrictive change (revoke, suspend) is written to
# the index FIRST, then BigQuery; a permissive one (a new key, a credential, reactivation) to BigQuery first, then the
# index. Either way the index may briefly refuse what BigQuery allows, never the reverse; a stale document is
# re-verified within KEY_INDEX_VERIFY_SECONDS, and a refused provider is re-checked in BigQuery before refusing.


def _warehouse(settings: Settings) -> Warehouse:
    return Warehouse(make_bigquery_client(settings), settings.project)


def bootstrap(settings: Settings) -> list[str]:
    """Create the central dataset, its tables and the run history's views (idempotent); returns the table
    names."""
    from shared.runs.history import ensure_views

    warehouse = _warehouse(settings)
    tables = bootstrap_central(settings, warehouse)
    ensure_views(warehouse, settings)
    return tables


def org_exists(settings: Settings, slug: str) -> bool:
    """True when the org has a profile row."""
    rows = _warehouse(settings).query(
        f"SELECT COUNT(*) AS n FROM `{central_table(settings, 'org_profiles')}` WHERE org_slug = @slug",
        {"slug": slug},
    )
    return rows[0]["n"] > 0


def _check_org_args(settings: Settings, slug: str, plan: str, status: str) -> None:
    if not is_org_slug(slug):
        raise AdminError(f"org slug {slug!r} must match [a-z][a-z0-9_]{{2,49}}")
    plans = load_plans(settings.config_dir)
    if plan not in plans:
        raise AdminError(f"plan {plan!r} is not one of {', '.join(plans)}")
    if status not in SUBSCRIPTION_STATUSES:
        raise AdminError(f"status {status!r} is not one of {', '.join(SUBSCRIPTION_STATUSES)}")


def create_org(settings: Settings, slug: str, plan: str, status: str, org_name: str | None = None) -> dict:
    """Onboard an org; returns {"org_slug", "api_key", "api_key_id", "plan", "status", "dataset"}."""
    _check_org_args(settings, slug, plan, status)
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
    dataset = ensure_org_dataset(settings, warehouse, slug)
    issued = issue_api_key(settings, slug)
    return {**issued, "plan": plan, "status": status, "dataset": dataset}


def issue_api_key(settings: Settings, slug: str, expires_at: datetime | None = None) -> dict:
    """A new API key for an existing org; returns {"org_slug", "api_key", "api_key_id"}. Shown only once."""
    api_key = api_keys.new_api_key()
    api_key_id = str(uuid.uuid4())
    key_hash = api_keys.hash_api_key(api_key, settings.key_pepper)
    warehouse = _warehouse(settings)
    warehouse.execute(
        f"""
        INSERT INTO `{central_table(settings, "org_api_keys")}`
          (api_key_id, org_slug, key_hash, key_prefix, is_active, expires_at, created_at, revoked_at)
        VALUES (@id, @slug, @hash, @prefix, TRUE, @expires_at, @now, NULL)
        """,
        {
            "id": api_key_id,
            "slug": slug,
            "hash": key_hash,
            "prefix": api_key[:10],
            "expires_at": Typed(expires_at, "TIMESTAMP"),
            "now": datetime.now(UTC),
        },
    )
    # Permissive: BigQuery first. The document is BigQuery's own answer for the key (plan, status, providers).
    auth.index_key(warehouse, settings, key_hash)
    return {"org_slug": slug, "api_key": api_key, "api_key_id": api_key_id}


def revoke_api_key(settings: Settings, slug: str, api_key_id: str) -> None:
    """Deactivate one of the org's API keys (instances stop accepting it within the auth cache bound)."""
    key_index.index_of(settings).deactivate(slug, api_key_id)  # restrictive: the index first
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
    index = key_index.index_of(settings)
    restrictive = subscription_refusal(status) is not None
    if restrictive:
        index.set_org_fields(slug, subscription_status=status)
    changed = _warehouse(settings).execute(
        f"UPDATE `{central_table(settings, 'org_subscriptions')}` SET status = @status, updated_at = @now "
        "WHERE org_slug = @slug",
        {"status": status, "slug": slug, "now": datetime.now(UTC)},
    )
    if not changed:
        raise AdminError(f"org {slug!r} has no subscription; create the org first")
    if not restrictive:
        index.set_org_fields(slug, subscription_status=status)


def set_credential(
    settings: Settings, slug: str, provider: str, secret: str, metadata: dict | None = None
) -> dict:
    """Store (replace) the org's credential for a provider, after the provider's own checks (what a run would
    refuse is refused now), encrypted with KMS and bound to the org and provider; never stored plain."""
    from shared.providers.registry import PROVIDERS

    if provider not in PROVIDERS:
        raise AdminError(f"provider {provider!r} is not one of {', '.join(PROVIDERS)}")
    metadata = metadata or {}
    try:
        PROVIDERS[provider].validate_credential(secret, metadata, settings, org_slug=slug)
    except TerminalError as error:
        raise AdminError(f"{PROVIDERS[provider].title} credential refused: {error.message}") from None
    if not org_exists(settings, slug):
        raise AdminError(f"org {slug!r} does not exist; create it first with `dps org create`")
    credential_id = store_credential(
        _warehouse(settings), settings, make_kms_client(settings), slug, provider, secret.strip(), metadata
    )
    key_index.index_of(settings).add_provider(slug, provider)  # permissive: after BigQuery
    return {"org_slug": slug, "provider": provider, "credential_id": credential_id, "metadata": metadata}
