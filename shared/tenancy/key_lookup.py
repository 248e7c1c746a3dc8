"""Per-instance API key lookups: a cache of valid keys (refreshed ahead), a brief cache of unknown ones, and a gate
that runs one lookup per key at a time and a bounded number overall.

Why: each lookup is a read of the key's Firestore index document, or a warehouse query for a key the index lacks
(every unknown key). Without the gate, 50 requests of an org arriving together each look up the same key, and a
flood of unknown keys queues every legitimate request behind hundreds of queries.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from shared.platform.errors import TransientError

# A valid key lookup is reused for this long in one instance: a revoked or expired key, a suspended subscription
# or a removed credential takes effect within this bound when made through onboarding, which keeps the key index
# exact (see README, "Authentication"; made directly in BigQuery: within KEY_INDEX_VERIFY_SECONDS more).
AUTH_CACHE_SECONDS = 30.0
# The last part of an entry's life in which one request refreshes it in the background.
REFRESH_AHEAD_SECONDS = 10.0
# An unknown key is refused from memory for this long: a client retrying a wrong key costs one query a bound.
UNKNOWN_KEY_SECONDS = 30.0
MAX_ENTRIES = 10_000  # per cache; a flood of distinct keys empties the unknown-key cache, never the valid one
# Lookups running at once per instance, and requests allowed to wait for one, per key format. Legacy-shaped keys
# (no checksum) get their own smaller share and no queue: a flood of well-shaped guesses then holds at most two
# of the instance's request threads (the rest are refused 503 at once) and never the checksummed keys' lookups.
MAX_LOOKUPS = {"current": (4, 16), "legacy": (2, 0)}
# How long a request waits for a lookup slot before it is answered 503 with Retry-After.
LOOKUP_WAIT_SECONDS = 5.0
# A request waiting on another request's lookup of the same key gives up after this long (the lookup itself is
# bounded by the warehouse client's own deadline, well inside it).
FOLLOWER_WAIT_SECONDS = 60.0


class KeyCache[T]:
    """Valid key lookups by key hash for `ttl_seconds`, unknown ones for UNKNOWN_KEY_SECONDS; thread-safe.

    Refresh ahead: in an entry's last REFRESH_AHEAD_SECONDS, one request (`claim_refresh`) looks the key up again
    in the background while every request keeps using the entry, so a key in steady use never makes a request
    wait on the warehouse; an entry still never outlives `ttl_seconds` from its own lookup.
    """

    def __init__(self, ttl_seconds: float = AUTH_CACHE_SECONDS, clock=time.monotonic):
        self.ttl, self.clock = ttl_seconds, clock
        self._entries: dict[str, tuple[float, T]] = {}
        self._unknown: dict[str, float] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> T | None:
        """The cached caller of a valid key, or None."""
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry and entry[0] > self.clock():
                return entry[1]
            self._entries.pop(key_hash, None)
            return None

    def is_unknown(self, key_hash: str) -> bool:
        """Whether a lookup found no valid key for this hash within the last UNKNOWN_KEY_SECONDS."""
        with self._lock:
            until = self._unknown.get(key_hash)
            if until is not None and until > self.clock():
                return True
            self._unknown.pop(key_hash, None)
            return False

    def put(self, key_hash: str, caller: T) -> None:
        """Remember a valid key's caller."""
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key_hash] = (self.clock() + self.ttl, caller)
            self._unknown.pop(key_hash, None)
            self._refreshing.discard(key_hash)

    def put_unknown(self, key_hash: str) -> None:
        """Remember that no valid key has this hash (unknown, revoked or inactive)."""
        with self._lock:
            if len(self._unknown) >= MAX_ENTRIES:
                self._unknown.clear()
            self._unknown[key_hash] = self.clock() + UNKNOWN_KEY_SECONDS

    def drop(self, key_hash: str) -> None:
        """Forget a valid key (a refresh found it revoked, expired or gone): it is now unknown."""
        with self._lock:
            self._entries.pop(key_hash, None)
            self._refreshing.discard(key_hash)
        self.put_unknown(key_hash)

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


class LookupGate:
    """Runs at most `limit` lookups at once, and one per key: a request whose key is being looked up by another
    request waits for that lookup's answer (or its error) instead of querying again."""

    def __init__(self, limit: int, max_waiting: int = 16, wait_seconds: float = LOOKUP_WAIT_SECONDS):
        self.limit, self.max_waiting, self.wait_seconds = limit, max_waiting, wait_seconds
        self._slots = threading.BoundedSemaphore(limit)
        self._in_flight: dict[str, Future] = {}
        self._waiting = 0
        self._lock = threading.Lock()

    def run(self, key_hash: str, lookup):
        """`lookup()`'s result, shared with every concurrent caller for the same key; TransientError
        (BACKEND_UNAVAILABLE) when no slot frees up within `wait_seconds`."""
        with self._lock:
            future = self._in_flight.get(key_hash)
            leader = future is None
            if leader:
                future = self._in_flight[key_hash] = Future()
        if not leader:
            try:
                return future.result(timeout=FOLLOWER_WAIT_SECONDS)
            except FutureTimeout as exc:
                raise _busy() from exc
        try:
            self._acquire()
            try:
                result = lookup()
            finally:
                self._slots.release()
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._in_flight.pop(key_hash, None)

    def _acquire(self) -> None:
        """Take a lookup slot: at once, or after waiting behind at most `max_waiting` others; else busy."""
        if self._slots.acquire(blocking=False):
            return
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise _busy()
            self._waiting += 1
        try:
            if not self._slots.acquire(timeout=self.wait_seconds):
                raise _busy()
        finally:
            with self._lock:
                self._waiting -= 1


def _busy() -> TransientError:
    return TransientError("BACKEND_UNAVAILABLE", "Too many API key lookups at once; retry shortly.")
