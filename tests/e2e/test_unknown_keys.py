"""A flood of unknown API keys costs the warehouse nothing: random strings fail the key checksum before any
lookup, and a well-shaped unknown key is looked up once, then refused from memory (over real HTTP)."""

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from tests.kit.runs import post_run


def _key_lookups_since(warehouse, since: datetime) -> int:
    """How many key lookups (queries on org_api_keys) BigQuery ran since `since`."""
    jobs = warehouse.client.list_jobs(min_creation_time=since, all_users=True)
    return sum(1 for job in jobs if "org_api_keys" in (getattr(job, "query", None) or ""))


def _send(stack, org_slug: str, keys: list[str], in_flight: int = 16) -> list:
    """One run request per key, `in_flight` at a time (16: as the attack that found the defect)."""
    with ThreadPoolExecutor(in_flight) as pool:
        return list(pool.map(lambda key: post_run(stack, org_slug, {"date": "2025-01-01"}, key=key), keys))


def _all_refused(stack, org_slug: str, keys: list[str], in_flight: int = 16) -> None:
    answers = _send(stack, org_slug, keys, in_flight)
    assert {answer.status_code for answer in answers} == {401}
    assert {answer.json()["error"]["code"] for answer in answers} == {"UNAUTHENTICATED"}


def test_random_keys_cost_no_lookup(stack, warehouse, api_only_org):
    org = api_only_org()
    began = datetime.now(UTC)
    guesses = [secrets.token_urlsafe(32) for _ in range(100)]
    guesses += ["dpsk_" + secrets.token_urlsafe(40)[:49] for _ in range(100)]  # right prefix, no checksum
    _all_refused(stack, org["org_slug"], guesses)
    assert _key_lookups_since(warehouse, began) == 0
    assert post_run(stack, org["org_slug"], {"date": "2025-01-01"}, key=org["api_key"]).status_code == 202


def test_a_well_shaped_unknown_key_is_looked_up_once(stack, warehouse, api_only_org):
    org = api_only_org()
    began = datetime.now(UTC)
    legacy_shaped = ["dps_" + secrets.token_urlsafe(32) for _ in range(10)]
    # Each sent 5 times, 2 at a time (the lookup slots of keys without a checksum): all refused, each looked up once.
    _all_refused(stack, org["org_slug"], legacy_shaped * 5, in_flight=2)
    assert _key_lookups_since(warehouse, began) == 10


def test_a_flood_of_well_shaped_guesses_is_refused_or_told_to_retry(stack, api_only_org):
    """More well-shaped guesses in flight than lookup slots: those without a slot are 503 with Retry-After at once
    (they hold no request thread), the others 401; the org's own key keeps working."""
    org = api_only_org()
    answers = _send(stack, org["org_slug"], ["dps_" + secrets.token_urlsafe(32) for _ in range(64)])
    codes = {(a.status_code, a.json()["error"]["code"]) for a in answers}
    assert codes <= {(401, "UNAUTHENTICATED"), (503, "BACKEND_UNAVAILABLE")}
    assert all(a.headers.get("Retry-After") for a in answers if a.status_code == 503)
    assert post_run(stack, org["org_slug"], {"date": "2025-01-01"}, key=org["api_key"]).status_code == 202
