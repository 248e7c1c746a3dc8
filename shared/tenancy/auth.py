"""Which org is calling: org API keys (peppered hash lookup in the Firestore key index or BigQuery, constant-time
check, brief cache). The root key and the scheduler's identities are shared/tenancy/operator_auth.py's."""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.platform.errors import ApiError
from shared.platform.logs import log
from shared.platform.settings import Settings, central_table
from shared.tenancy import api_keys, key_index
from shared.tenancy.key_index import KeyIndex
from shared.tenancy.key_lookup import MAX_LOOKUPS, KeyCache, LookupGate
from shared.tenancy.subscriptions import subscription_refusal
from shared.warehouse.adapter import Warehouse


@dataclass(frozen=True)
class OrgCaller:
    """An authenticated org: its slug, plan, subscription status and the providers it has credentials for."""

    org_slug: str
    plan: str | None
    subscription_status: str | None
    providers: frozenset[str] = frozenset()
    expires_at: datetime | None = None


KEY_CACHE: KeyCache[OrgCaller] = KeyCache()
LOOKUP_GATES = {fmt: LookupGate(limit, waiting) for fmt, (limit, waiting) in MAX_LOOKUPS.items()}
# `index` argument: the Firestore key index of the settings (None: BigQuery alone, e.g. unit tests' fakes).
FROM_SETTINGS = "from-settings"
_VERIFYING: set[str] = set()  # key hashes whose stale index document is being verified in the background
_VERIFYING_LOCK = threading.Lock()


def _query_key(warehouse: Warehouse, settings: Settings, key_hash: str) -> dict | None:
    """BigQuery's answer in one round trip: the key, its org's subscription and the providers with an active
    credential, as an index document's fields (key_index.FIELDS); None when no key has this hash."""
    rows = warehouse.query(
        f"""
        SELECT k.org_slug, k.api_key_id, k.key_hash, k.is_active, k.expires_at, s.plan, s.status,
               ARRAY_AGG(DISTINCT c.provider IGNORE NULLS) AS providers
        FROM `{central_table(settings, "org_api_keys")}` AS k
        LEFT JOIN `{central_table(settings, "org_subscriptions")}` AS s ON s.org_slug = k.org_slug
        LEFT JOIN `{central_table(settings, "org_integration_credentials")}` AS c
          ON c.org_slug = k.org_slug AND c.is_active
        WHERE k.key_hash = @key_hash
        GROUP BY k.org_slug, k.api_key_id, k.key_hash, k.is_active, k.expires_at, s.plan, s.status
        """,
        {"key_hash": key_hash},
    )
    row = rows[0] if rows else None
    if row is None or not hmac.compare_digest(row["key_hash"], key_hash):
        return None
    return {
        "org_slug": row["org_slug"],
        "api_key_id": row.get("api_key_id"),
        "is_active": bool(row["is_active"]),
        "expires_at": row["expires_at"],
        "plan": row["plan"],
        "subscription_status": row["status"],
        "providers": sorted(row["providers"] or ()),
    }


def _caller_of(entry: dict | None) -> OrgCaller | None:
    """The caller of an index document or BigQuery answer; None for no key or an inactive one."""
    if entry is None or not entry["is_active"]:
        return None
    return OrgCaller(
        entry["org_slug"],
        entry["plan"],
        entry["subscription_status"],
        frozenset(entry["providers"] or ()),
        entry["expires_at"],
    )


def _index(settings: Settings, index) -> KeyIndex | None:
    return key_index.index_of(settings) if index == FROM_SETTINGS else index


def _from_warehouse(
    warehouse: Warehouse, settings: Settings, key_hash: str, index: KeyIndex | None, indexed: bool
) -> OrgCaller | None:
    """Look the key up in BigQuery and bring its index document in line (`indexed`: one exists to replace)."""
    entry = _query_key(warehouse, settings, key_hash)
    try:
        if index is not None and entry is not None:
            index.write_from_lookup(key_hash, entry)
        elif index is not None and indexed:
            index.delete(key_hash)
    except Exception as exc:  # noqa: BLE001 - BigQuery answered; the document is fixed by a later lookup
        log("WARNING", "API key index not updated", error=type(exc).__name__)
    return _caller_of(entry)


def _lookup(
    warehouse: Warehouse, settings: Settings, key_hash: str, index: KeyIndex | None
) -> tuple[OrgCaller | None, bool]:
    """The key's caller, and whether its index document is stale: one Firestore read, or BigQuery when the index
    has no document (then written: deployments need no migration) or Firestore does not answer."""
    if index is None:
        return _from_warehouse(warehouse, settings, key_hash, None, False), False
    try:
        document = index.read(key_hash)
    except Exception as exc:  # noqa: BLE001 - BigQuery, the record, still answers (as before the index)
        log("WARNING", "API key index unreadable; asking BigQuery", error=type(exc).__name__)
        return _from_warehouse(warehouse, settings, key_hash, None, False), False
    if document is None:
        return _from_warehouse(warehouse, settings, key_hash, index, False), False
    return _caller_of(document), index.is_stale(document)


def authenticate_org(
    warehouse: Warehouse,
    settings: Settings,
    api_key: str | None,
    cache: KeyCache | None = KEY_CACHE,
    index: KeyIndex | None | str = FROM_SETTINGS,
) -> OrgCaller:
    """The org that owns `api_key`; 401 when the key is missing, malformed, unknown, inactive or expired.

    Only a well-formed key (checksum, or a legacy key's shape) is looked up, through its format's gate: in the
    Firestore key index, else in BigQuery; a key found unknown is refused from memory for a while
    (shared/tenancy/key_lookup.py, shared/tenancy/key_index.py)."""
    key_format, key_hash = _key_hash(settings, api_key)
    index = _index(settings, index)
    caller = cache.get(key_hash) if cache else None
    if caller is not None and cache.claim_refresh(key_hash):
        threading.Thread(
            target=_refresh,
            args=(warehouse, settings, key_hash, cache, index),
            name="key-refresh",
            daemon=True,
        ).start()
    if caller is None:
        if cache and cache.is_unknown(key_hash):
            raise ApiError("UNAUTHENTICATED", "The API key is not valid.")
        caller, stale = LOOKUP_GATES[key_format].run(
            key_hash, lambda: _lookup(warehouse, settings, key_hash, index)
        )
        if cache and caller is None:
            cache.put_unknown(key_hash)
        elif cache:
            cache.put(key_hash, caller)
        if stale:  # after the cache entry: the verification's answer replaces it, never the other way round
            _verify_in_background(warehouse, settings, key_hash, cache, index)
        if caller is None:
            raise ApiError("UNAUTHENTICATED", "The API key is not valid.")
    return _unexpired(caller)


def refresh_caller(
    warehouse: Warehouse,
    settings: Settings,
    api_key: str | None,
    cache: KeyCache | None = KEY_CACHE,
    index: KeyIndex | None | str = FROM_SETTINGS,
    current: OrgCaller | None = None,
) -> OrgCaller:
    """The key's caller as BigQuery has it now, its index document and cache entry rewritten: asked before a
    refusal the index may not know to be wrong (a credential stored around the CLI); 401 as authenticate_org.
    At most once per key and REFRESH_EVERY_SECONDS in an instance: within that, `current` is the answer (a client
    repeating a request for a provider it has no credential for costs one query a bound, not one per request)."""
    key_format, key_hash = _key_hash(settings, api_key)
    if current is not None and not _refresh_due(key_hash):
        return current
    index = _index(settings, index)
    # Its own in-flight name: a concurrent cold lookup of the same key may have answered from the index.
    caller = LOOKUP_GATES[key_format].run(
        f"fresh:{key_hash}", lambda: _from_warehouse(warehouse, settings, key_hash, index, True)
    )
    if caller is None:
        if cache:
            cache.drop(key_hash)
        raise ApiError("UNAUTHENTICATED", "The API key is not valid.")
    if cache:
        cache.put(key_hash, caller)
    return _unexpired(caller)


# How often one instance may re-check one key against BigQuery before a refusal (refresh_caller).
REFRESH_EVERY_SECONDS = 30.0
_REFRESHED: dict[str, float] = {}
_REFRESHED_LOCK = threading.Lock()


def _refresh_due(key_hash: str, clock=time.monotonic) -> bool:
    """True (and the time noted) if this key was not re-checked within REFRESH_EVERY_SECONDS."""
    now = clock()
    with _REFRESHED_LOCK:
        if now - _REFRESHED.get(key_hash, float("-inf")) < REFRESH_EVERY_SECONDS:
            return False
        if len(_REFRESHED) >= 10_000:  # bounded: forgetting only allows an early re-check
            _REFRESHED.clear()
        _REFRESHED[key_hash] = now
        return True


def index_key(
    warehouse: Warehouse, settings: Settings, key_hash: str, index: KeyIndex | None | str = FROM_SETTINGS
) -> None:
    """Write the key's index document from BigQuery's answer now (onboarding, once a key is issued)."""
    _from_warehouse(warehouse, settings, key_hash, _index(settings, index), True)


def _key_hash(settings: Settings, api_key: str | None) -> tuple[str, str]:
    """The key's format and peppered hash; 401 for a missing key or one this service never issued."""
    if not api_key:
        raise ApiError("UNAUTHENTICATED", "Missing X-API-Key header.")
    key_format = api_keys.key_format(api_key)
    if key_format is None:
        raise ApiError("UNAUTHENTICATED", "The API key is not valid (it is not a key this service issued).")
    return key_format, api_keys.hash_api_key(api_key, settings.key_pepper)


def _unexpired(caller: OrgCaller) -> OrgCaller:
    if caller.expires_at is not None and caller.expires_at <= datetime.now(UTC):
        raise ApiError("API_KEY_EXPIRED", "The API key has expired.")
    return caller


def _refresh(
    warehouse: Warehouse, settings: Settings, key_hash: str, cache: KeyCache, index: KeyIndex | None
) -> None:
    """Look a cached key up again (background): renewed, or dropped if it is no longer valid."""
    try:
        caller, stale = _lookup(warehouse, settings, key_hash, index)
        if stale:  # already in the background: verify in line
            caller = _from_warehouse(warehouse, settings, key_hash, index, True)
    except Exception:  # noqa: BLE001 - the entry runs out as it would have; the next request looks it up
        cache.release(key_hash)
        return
    if caller is None:
        cache.drop(key_hash)
    else:
        cache.put(key_hash, caller)


def verifying(key_hash: str) -> bool:
    """Whether a background verification of the key's index document is running (tests wait on it)."""
    with _VERIFYING_LOCK:
        return key_hash in _VERIFYING


def _verify_in_background(
    warehouse: Warehouse, settings: Settings, key_hash: str, cache: KeyCache | None, index: KeyIndex
) -> None:
    """Start one background lookup in BigQuery that rewrites (or deletes) a stale index document."""
    with _VERIFYING_LOCK:
        if key_hash in _VERIFYING:
            return
        _VERIFYING.add(key_hash)
    threading.Thread(
        target=_verify, args=(warehouse, settings, key_hash, cache, index), name="key-verify", daemon=True
    ).start()


def _verify(
    warehouse: Warehouse, settings: Settings, key_hash: str, cache: KeyCache | None, index: KeyIndex
) -> None:
    try:
        caller = _from_warehouse(warehouse, settings, key_hash, index, True)
    except Exception:  # noqa: BLE001 - the document stays stale; the next cold lookup tries again
        return
    finally:
        with _VERIFYING_LOCK:
            _VERIFYING.discard(key_hash)
    if cache and caller is None:
        cache.drop(key_hash)
    elif cache:
        cache.put(key_hash, caller)


def authorize_org(caller: OrgCaller, path_org: str) -> None:
    """403 unless the key's org is the path's org and its subscription allows runs."""
    if not hmac.compare_digest(caller.org_slug.encode(), path_org.encode()):
        raise ApiError("ORG_MISMATCH", "This API key belongs to another organization.")
    status = caller.subscription_status
    code = subscription_refusal(status)
    if code:
        raise ApiError(code, f"The subscription is {status or 'missing'}; runs need ACTIVE or TRIAL.")
