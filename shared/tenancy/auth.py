"""Who is calling: org API keys (peppered hash lookup, constant-time check, brief cache) and the root key."""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.platform.errors import ApiError
from shared.platform.settings import Settings, central_table
from shared.tenancy import api_keys
from shared.tenancy.subscriptions import subscription_refusal
from shared.warehouse.adapter import Warehouse

# A valid key lookup is reused for this long in one instance: a revoked or expired key, a suspended subscription
# or a removed credential takes effect within this bound (see README, "Authentication").
AUTH_CACHE_SECONDS = 30.0
REFRESH_AHEAD_SECONDS = (
    10.0  # the last part of an entry's life in which one request refreshes it in the background
)


@dataclass(frozen=True)
class OrgCaller:
    """An authenticated org: its slug, plan, subscription status and the providers it has credentials for."""

    org_slug: str
    plan: str | None
    subscription_status: str | None
    providers: frozenset[str] = frozenset()
    expires_at: datetime | None = None


class KeyCache:
    """Valid key lookups by key hash, for AUTH_CACHE_SECONDS; thread-safe (functions serve requests in threads).

    Refresh ahead: in an entry's last REFRESH_AHEAD_SECONDS, one request (`claim_refresh`) looks the key up again
    in the background while every request keeps using the entry, so a key in steady use never makes a request
    wait on the warehouse; an entry still never outlives AUTH_CACHE_SECONDS from its own lookup.
    """

    def __init__(self, ttl_seconds: float = AUTH_CACHE_SECONDS, clock=time.monotonic):
        self.ttl, self.clock = ttl_seconds, clock
        self._entries: dict[str, tuple[float, OrgCaller]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> OrgCaller | None:
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry and entry[0] > self.clock():
                return entry[1]
            self._entries.pop(key_hash, None)
            return None

    def put(self, key_hash: str, caller: OrgCaller) -> None:
        with self._lock:
            if len(self._entries) > 10_000:  # bound memory: a flood of distinct keys never grows it further
                self._entries.clear()
            self._entries[key_hash] = (self.clock() + self.ttl, caller)
            self._refreshing.discard(key_hash)

    def drop(self, key_hash: str) -> None:
        """Forget the key (a refresh found it revoked, expired or gone)."""
        with self._lock:
            self._entries.pop(key_hash, None)
            self._refreshing.discard(key_hash)

    def claim_refresh(self, key_hash: str) -> bool:
        """True for the one caller that should refresh the entry now (it is in its last REFRESH_AHEAD_SECONDS
        and no refresh runs); that caller must end with `put`, `drop` or `release`."""
        with self._lock:
            entry = self._entries.get(key_hash)
            if not entry or key_hash in self._refreshing or entry[0] - self.clock() > REFRESH_AHEAD_SECONDS:
                return False
            self._refreshing.add(key_hash)
            return True

    def release(self, key_hash: str) -> None:
        """A refresh failed (the warehouse did not answer): the entry simply runs out, as without refresh."""
        with self._lock:
            self._refreshing.discard(key_hash)


KEY_CACHE = KeyCache()


def _lookup(warehouse: Warehouse, settings: Settings, key_hash: str) -> OrgCaller | None:
    """One round trip: the key, its org's subscription and the providers with an active credential."""
    rows = warehouse.query(
        f"""
        SELECT k.org_slug, k.key_hash, k.is_active, k.expires_at, s.plan, s.status,
               ARRAY_AGG(DISTINCT c.provider IGNORE NULLS) AS providers
        FROM `{central_table(settings, "org_api_keys")}` AS k
        LEFT JOIN `{central_table(settings, "org_subscriptions")}` AS s ON s.org_slug = k.org_slug
        LEFT JOIN `{central_table(settings, "org_integration_credentials")}` AS c
          ON c.org_slug = k.org_slug AND c.is_active
        WHERE k.key_hash = @key_hash
        GROUP BY k.org_slug, k.key_hash, k.is_active, k.expires_at, s.plan, s.status
        """,
        {"key_hash": key_hash},
    )
    row = rows[0] if rows else None
    if row is None or not hmac.compare_digest(row["key_hash"], key_hash) or not row["is_active"]:
        return None
    return OrgCaller(
        row["org_slug"], row["plan"], row["status"], frozenset(row["providers"] or ()), row["expires_at"]
    )


def authenticate_org(
    warehouse: Warehouse, settings: Settings, api_key: str | None, cache: KeyCache | None = KEY_CACHE
) -> OrgCaller:
    """The org that owns `api_key`; 401 when the key is missing, unknown, inactive or expired."""
    if not api_key:
        raise ApiError("UNAUTHENTICATED", "Missing X-API-Key header.")
    if len(api_key) > 200:  # no real key is this long; don't hash arbitrary payloads
        raise ApiError("UNAUTHENTICATED", "The API key is not valid.")
    key_hash = api_keys.hash_api_key(api_key, settings.key_pepper)
    caller = cache.get(key_hash) if cache else None
    if caller is not None and cache.claim_refresh(key_hash):
        threading.Thread(
            target=_refresh, args=(warehouse, settings, key_hash, cache), name="key-refresh", daemon=True
        ).start()
    if caller is None:
        caller = _lookup(warehouse, settings, key_hash)
        if caller is None:
            raise ApiError("UNAUTHENTICATED", "The API key is not valid.")
        if cache:
            cache.put(key_hash, caller)
    if caller.expires_at is not None and caller.expires_at <= datetime.now(UTC):
        raise ApiError("API_KEY_EXPIRED", "The API key has expired.")
    return caller


def _refresh(warehouse: Warehouse, settings: Settings, key_hash: str, cache: KeyCache) -> None:
    """Look a cached key up again (background): renewed, or dropped if it is no longer valid."""
    try:
        caller = _lookup(warehouse, settings, key_hash)
    except Exception:  # noqa: BLE001 - the entry runs out as it would have; the next request looks it up
        cache.release(key_hash)
        return
    if caller is None:
        cache.drop(key_hash)
    else:
        cache.put(key_hash, caller)


def authorize_org(caller: OrgCaller, path_org: str) -> None:
    """403 unless the key's org is the path's org and its subscription allows runs."""
    if not hmac.compare_digest(caller.org_slug.encode(), path_org.encode()):
        raise ApiError("ORG_MISMATCH", "This API key belongs to another organization.")
    status = caller.subscription_status
    code = subscription_refusal(status)
    if code:
        raise ApiError(code, f"The subscription is {status or 'missing'}; runs need ACTIVE or TRIAL.")


def verify_root_key(settings: Settings, presented: str | None) -> None:
    """401 unless the X-CA-Root-Key header equals the configured root key (constant time)."""
    expected = settings.root_key
    if not expected or not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError("INVALID_ROOT_KEY", "Missing or invalid X-CA-Root-Key header.")


def verify_scheduler_caller(settings: Settings, headers, verify_token=None) -> str:
    """Who may trigger schedules: the root key, or Cloud Scheduler's OIDC identity (the service account named by
    SCHEDULER_SERVICE_ACCOUNT, for the audience SCHEDULER_AUDIENCE); returns which one. 401 otherwise."""
    if headers.get("X-CA-Root-Key"):
        verify_root_key(settings, headers.get("X-CA-Root-Key"))
        return "root_key"
    bearer = headers.get("Authorization", "")
    if settings.scheduler_service_account and bearer.startswith("Bearer "):
        claims = _oidc_claims(bearer.removeprefix("Bearer ").strip(), settings, verify_token)
        email = str(claims.get("email", "")) if claims else ""
        if (
            claims
            and claims.get("email_verified")
            and hmac.compare_digest(email.encode(), settings.scheduler_service_account.encode())
        ):
            return "oidc"
    raise ApiError(
        "INVALID_ROOT_KEY", "Send X-CA-Root-Key, or call as the scheduler's service account (OIDC)."
    )


def _oidc_claims(token: str, settings: Settings, verify_token=None) -> dict | None:
    """The verified claims of a Google-signed OIDC token for our audience, or None (bad signature, expired,
    another audience). `verify_token(token, audience)` is injectable; the default checks Google's keys."""
    audience = settings.scheduler_audience or settings.scheduler_target_url
    if not audience or len(token) > 4096:
        return None
    if verify_token is None:
        from google.auth.transport import requests as google_requests
        from google.oauth2 import id_token

        def verify_token(value, aud):
            return id_token.verify_oauth2_token(value, google_requests.Request(), audience=aud)

    try:
        return verify_token(token, audience)
    except Exception:  # noqa: BLE001 - any verification failure is simply "not the scheduler"
        return None
