"""API keys carry a checksum, so guesses cost no lookup; unknown keys are remembered; lookups are shared per key
and bounded per instance."""

import secrets
import threading

import pytest

from shared.platform.errors import ApiError, TransientError
from shared.platform.settings import settings_from_env
from shared.tenancy import api_keys
from shared.tenancy.auth import authenticate_org
from shared.tenancy.key_lookup import UNKNOWN_KEY_SECONDS, KeyCache, LookupGate

SETTINGS = settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k"})
LEGACY_KEY = "dps_" + secrets.token_urlsafe(32)  # the shape of keys issued before the checksum


class KeyTable:
    """Answers key lookups like the warehouse would (only `known` keys exist); counts them, and can hold them
    until `release` is set to see how many run at once."""

    def __init__(self, *known: str, hold: bool = False):
        self.known = {api_keys.hash_api_key(key, SETTINGS.key_pepper) for key in known}
        self.lookups = self.running = self.most_running = 0
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self._lock = threading.Lock()

    def query(self, sql, params):
        with self._lock:
            self.lookups += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.release.wait(30)
        with self._lock:
            self.running -= 1
        if params["key_hash"] not in self.known:
            return []
        return [
            {
                "org_slug": "acme",
                "key_hash": params["key_hash"],
                "is_active": True,
                "expires_at": None,
                "plan": "professional",
                "status": "ACTIVE",
                "providers": ["openai"],
            }
        ]


def _refused(table, key, cache) -> str:
    with pytest.raises(ApiError) as caught:
        authenticate_org(table, SETTINGS, key, cache, index=None)
    assert caught.value.status == 401
    return caught.value.code


def test_new_keys_carry_a_checksum_that_a_typo_or_a_guess_fails():
    key = api_keys.new_api_key()
    assert key.startswith("dpsk_") and api_keys.key_format(key) == api_keys.CURRENT
    typo = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]
    assert api_keys.key_format(typo) is None
    assert api_keys.key_format(key[:-1]) is None and api_keys.key_format(key + "0") is None
    assert api_keys.key_format(LEGACY_KEY) == api_keys.LEGACY
    assert api_keys.key_format("dps_" + "x" * 42) is None


def test_random_strings_are_refused_without_any_lookup():
    table = KeyTable(api_keys.new_api_key())
    cache = KeyCache()
    guesses = [secrets.token_urlsafe(32) for _ in range(100)]
    guesses += ["dpsk_" + secrets.token_urlsafe(36)[:49] for _ in range(100)]  # the right prefix and length
    guesses += ["", "dpsk_", "x" * 100_000, "dpsk_\u00e9" * 10]
    for guess in guesses:
        _refused(table, guess, cache)
    assert table.lookups == 0


def test_existing_legacy_keys_keep_working():
    table, cache = KeyTable(LEGACY_KEY), KeyCache()
    assert authenticate_org(table, SETTINGS, LEGACY_KEY, cache, index=None).org_slug == "acme"
    assert table.lookups == 1


def test_an_unknown_key_is_looked_up_once_then_refused_from_memory_for_a_while():
    clock = [0.0]
    table, cache = KeyTable(), KeyCache(clock=lambda: clock[0])
    unknown = api_keys.new_api_key()
    for _ in range(20):
        _refused(table, unknown, cache)
    assert table.lookups == 1
    clock[0] = UNKNOWN_KEY_SECONDS + 1  # briefly: a key created later is not refused for long
    _refused(table, unknown, cache)
    assert table.lookups == 2


def _at_once(count: int, work) -> list:
    """Run `work(i)` in `count` threads started together; their results or exceptions, in order."""
    results: list = [None] * count
    start = threading.Barrier(count)

    def run(index):
        start.wait()
        try:
            results[index] = work(index)
        except Exception as exc:  # noqa: BLE001 - returned to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def test_requests_with_the_same_cold_key_share_one_lookup():
    key = api_keys.new_api_key()
    table, cache = KeyTable(key, hold=True), KeyCache()
    threads, results = _at_once(20, lambda i: authenticate_org(table, SETTINGS, key, cache, index=None))
    for _ in range(500):  # until the 19 others are waiting on the first one's lookup
        if table.lookups:
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)
    table.release.set()
    for thread in threads:
        thread.join(30)
    assert [result.org_slug for result in results] == ["acme"] * 20
    assert table.lookups == 1


@pytest.mark.parametrize(
    ("make_key", "running", "refused_at_once"),
    [
        (api_keys.new_api_key, 4, 0),  # checksummed keys: 4 run, the other 8 wait their turn
        (lambda: "dps_" + secrets.token_urlsafe(32), 2, 10),  # legacy-shaped: 2 run, no queue
    ],
)
def test_lookups_of_distinct_keys_are_bounded_per_instance(make_key, running, refused_at_once):
    table, cache = KeyTable(hold=True), KeyCache()
    keys = [make_key() for _ in range(12)]
    threads, results = _at_once(12, lambda i: authenticate_org(table, SETTINGS, keys[i], cache, index=None))
    for _ in range(500):
        if (
            table.running >= running
            and sum(isinstance(r, TransientError) for r in results) >= refused_at_once
        ):
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)  # would more start if they could?
    table.release.set()
    for thread in threads:
        thread.join(30)
    assert table.most_running == running
    busy = [r for r in results if isinstance(r, TransientError)]
    assert len(busy) == refused_at_once and {r.code for r in busy} <= {"BACKEND_UNAVAILABLE"}
    assert all(r.code == "UNAUTHENTICATED" for r in results if isinstance(r, ApiError))


def test_a_lookup_that_waits_too_long_for_a_slot_is_a_retryable_503():
    gate, held = LookupGate(1, max_waiting=1, wait_seconds=0.05), threading.Event()
    threads, results = _at_once(1, lambda i: gate.run("first", lambda: held.wait(30)))
    for _ in range(500):
        if gate._in_flight:
            break
        threading.Event().wait(0.01)
    with pytest.raises(TransientError) as caught:
        gate.run("second", lambda: "never")
    assert caught.value.code == "BACKEND_UNAVAILABLE"
    held.set()
    threads[0].join(30)
    assert results == [True]


def test_a_full_queue_refuses_at_once():
    gate, held = LookupGate(1, max_waiting=0), threading.Event()
    threads, _ = _at_once(1, lambda i: gate.run("first", lambda: held.wait(30)))
    for _ in range(500):
        if gate._in_flight:
            break
        threading.Event().wait(0.01)
    with pytest.raises(TransientError):
        gate.run("second", lambda: "never")
    held.set()
    threads[0].join(30)


def test_a_refusal_recheck_asks_the_warehouse_once_per_key_and_bound():
    """A client repeating a request for a provider it has no credential for: one re-check, then the caller it has."""
    from shared.tenancy.auth import refresh_caller

    key = api_keys.new_api_key()
    table, cache = KeyTable(key), KeyCache()
    current = authenticate_org(table, SETTINGS, key, cache, index=None)
    answers = [refresh_caller(table, SETTINGS, key, cache, index=None, current=current) for _ in range(5)]
    assert table.lookups == 2  # the first authentication, then one re-check
    assert {answer.org_slug for answer in answers} == {"acme"}
