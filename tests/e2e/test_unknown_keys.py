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


def _all_refused(stack, org_slug: str, keys: list[str]) -> None:
    with ThreadPoolExecutor(16) as pool:  # 16 at a time, as the attack that found the defect
        answers = list(pool.map(lambda key: post_run(stack, org_slug, {"date": "2025-01-01"}, key=key), keys))
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
    _all_refused(stack, org["org_slug"], legacy_shaped * 5)  # each sent 5 times, concurrently
    assert _key_lookups_since(warehouse, began) == 10
