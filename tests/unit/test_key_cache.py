"""The key cache refreshes a key in steady use ahead of its expiry, in the background, within the same bound."""

import threading

from shared.platform.settings import settings_from_env
from shared.tenancy import api_keys
from shared.tenancy.auth import KeyCache, authenticate_org

SETTINGS = settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k"})
KEY = api_keys.new_api_key()


class KeyTable:
    """Answers the key lookup like the warehouse would; counts lookups and can revoke the key."""

    def __init__(self):
        self.lookups, self.active, self.done = 0, True, threading.Event()

    def query(self, sql, params):
        self.lookups += 1
        self.done.set()
        row = {
            "org_slug": "acme",
            "key_hash": api_keys.hash_api_key(KEY, SETTINGS.key_pepper),
            "is_active": self.active,
            "expires_at": None,
            "plan": "professional",
            "status": "ACTIVE",
            "providers": ["openai"],
        }
        return [row]


KEY_HASH = api_keys.hash_api_key(KEY, SETTINGS.key_pepper)


def _wait_for(condition) -> None:
    for _ in range(500):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the background refresh did not finish")


def _authenticate(table, cache):
    return authenticate_org(table, SETTINGS, KEY, cache, index=None)  # BigQuery alone: the cache under test


def test_a_key_in_use_is_refreshed_ahead_in_the_background_and_never_waits_again():
    clock, table = [0.0], KeyTable()
    cache = KeyCache(ttl_seconds=30, clock=lambda: clock[0])
    assert _authenticate(table, cache).org_slug == "acme" and table.lookups == 1  # cold: looked up in line
    clock[0] = 15.0
    _authenticate(table, cache)
    assert table.lookups == 1  # fresh: no lookup
    clock[0], table.done = 25.0, threading.Event()
    assert _authenticate(table, cache).org_slug == "acme"  # answered from the entry ...
    assert table.done.wait(10) and table.lookups == 2  # ... while one background lookup renews it
    _wait_for(lambda: KEY_HASH not in cache._refreshing)  # the renewed entry is stored
    clock[0] = 40.0  # past the first entry's life (30 s): the renewed one (from 25 s) holds, not yet due
    assert _authenticate(table, cache).org_slug == "acme" and table.lookups == 2


def test_a_refresh_that_finds_the_key_revoked_drops_it():
    clock, table = [0.0], KeyTable()
    cache = KeyCache(ttl_seconds=30, clock=lambda: clock[0])
    _authenticate(table, cache)
    table.active, clock[0], table.done = False, 28.0, threading.Event()
    assert _authenticate(table, cache).org_slug == "acme"  # within the documented bound
    assert table.done.wait(10)
    _wait_for(lambda: cache.get(KEY_HASH) is None)  # dropped once its lookup returned
    assert not cache.claim_refresh(KEY_HASH)  # nothing left to refresh
