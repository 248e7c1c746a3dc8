"""Who is calling: org API keys (peppered hash lookup, constant-time check) and the admin root key."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from shared import keys
from shared.errors import ApiError
from shared.identifiers import RUNNABLE_STATUSES
from shared.settings import Settings, central_table
from shared.warehouse import Warehouse

_SUBSCRIPTION_CODES = {
    "SUSPENDED": "SUBSCRIPTION_SUSPENDED",
    "CANCELLED": "SUBSCRIPTION_CANCELLED",
    "PAST_DUE": "SUBSCRIPTION_PAST_DUE",
}


@dataclass(frozen=True)
class OrgCaller:
    """An authenticated org: its slug, plan and subscription status."""

    org_slug: str
    plan: str | None
    subscription_status: str | None


def authenticate_org(warehouse: Warehouse, settings: Settings, api_key: str | None) -> OrgCaller:
    """The org that owns `api_key`; 401 when the key is missing, unknown, inactive or expired."""
    if not api_key:
        raise ApiError("UNAUTHENTICATED", "Missing X-API-Key header.")
    key_hash = keys.hash_api_key(api_key, settings.key_pepper)
    rows = warehouse.query(
        f"""
        SELECT k.org_slug, k.key_hash, k.is_active, k.expires_at, s.plan, s.status
        FROM `{central_table(settings, "org_api_keys")}` AS k
        LEFT JOIN `{central_table(settings, "org_subscriptions")}` AS s ON s.org_slug = k.org_slug
        WHERE k.key_hash = @key_hash
        """,
        {"key_hash": key_hash},
    )
    row = rows[0] if rows else None
    if row is None or not hmac.compare_digest(row["key_hash"], key_hash) or not row["is_active"]:
        raise ApiError("UNAUTHENTICATED", "The API key is not valid.")
    if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
        raise ApiError("API_KEY_EXPIRED", "The API key has expired.")
    return OrgCaller(org_slug=row["org_slug"], plan=row["plan"], subscription_status=row["status"])


def authorize_org(caller: OrgCaller, path_org: str) -> None:
    """403 unless the key's org is the path's org and its subscription allows runs."""
    if not hmac.compare_digest(caller.org_slug.encode(), path_org.encode()):
        raise ApiError("ORG_MISMATCH", "This API key belongs to another organization.")
    status = caller.subscription_status
    if status not in RUNNABLE_STATUSES:
        code = _SUBSCRIPTION_CODES.get(status or "", "SUBSCRIPTION_INACTIVE")
        raise ApiError(code, f"The subscription is {status or 'missing'}; runs need ACTIVE or TRIAL.")


def verify_root_key(settings: Settings, presented: str | None) -> None:
    """401 unless the X-CA-Root-Key header equals the configured root key (constant time)."""
    expected = settings.root_key
    if not expected or not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError("INVALID_ROOT_KEY", "Missing or invalid X-CA-Root-Key header.")
