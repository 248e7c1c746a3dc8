"""A cold API key is answered from its Firestore index document, without a BigQuery job; onboarding keeps the index
exact, a missing document is rebuilt from BigQuery, and a stale one is re-verified against it in the background."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.platform.errors import ApiError
from shared.platform.settings import central_table
from shared.runs.control import api_key_ref, control_db
from shared.tenancy import api_keys, auth, onboarding
from shared.tenancy.auth import KeyCache, authenticate_org


def _key_lookups_since(warehouse, since: datetime) -> int:
    """How many key lookups (queries on org_api_keys) BigQuery ran since `since`."""
    jobs = warehouse.client.list_jobs(min_creation_time=since, all_users=True)
    return sum(1 for job in jobs if "org_api_keys" in (getattr(job, "query", None) or ""))


def _document(settings, api_key: str):
    return api_key_ref(control_db(settings), api_keys.hash_api_key(api_key, settings.key_pepper))


def _refused(warehouse, settings, api_key: str, cache: KeyCache) -> str:
    with pytest.raises(ApiError) as caught:
        authenticate_org(warehouse, settings, api_key, cache)
    return caught.value.code


def _wait_for(condition) -> None:
    for _ in range(1000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the background verification did not finish")


def test_a_cold_key_is_answered_from_its_index_document(settings, warehouse, api_only_org):
    org = api_only_org()
    began = datetime.now(UTC)
    caller = authenticate_org(warehouse, settings, org["api_key"], KeyCache())
    assert caller.org_slug == org["org_slug"] and caller.providers == {"openai"}  # set_credential indexed it
    assert _key_lookups_since(warehouse, began) == 0


def test_a_missing_document_is_rebuilt_from_bigquery_once(settings, warehouse, api_only_org):
    org = api_only_org()
    _document(settings, org["api_key"]).delete()  # e.g. a key issued before the index existed
    began = datetime.now(UTC)
    assert authenticate_org(warehouse, settings, org["api_key"], KeyCache()).org_slug == org["org_slug"]
    assert _key_lookups_since(warehouse, began) == 1
    assert _document(settings, org["api_key"]).get().exists
    again = datetime.now(UTC)
    assert authenticate_org(warehouse, settings, org["api_key"], KeyCache()).providers == {"openai"}
    assert _key_lookups_since(warehouse, again) == 0


def test_revocation_and_suspension_through_onboarding_take_effect_through_the_index(
    settings, warehouse, api_only_org
):
    org = api_only_org()
    spare = onboarding.issue_api_key(settings, org["org_slug"])
    assert authenticate_org(warehouse, settings, spare["api_key"], KeyCache()).org_slug == org["org_slug"]
    onboarding.revoke_api_key(settings, org["org_slug"], spare["api_key_id"])
    onboarding.set_subscription_status(settings, org["org_slug"], "SUSPENDED")
    began = datetime.now(UTC)
    assert _refused(warehouse, settings, spare["api_key"], KeyCache()) == "UNAUTHENTICATED"
    caller = authenticate_org(warehouse, settings, org["api_key"], KeyCache())
    with pytest.raises(ApiError) as caught:
        auth.authorize_org(caller, org["org_slug"])
    assert caught.value.code == "SUBSCRIPTION_SUSPENDED"
    assert _key_lookups_since(warehouse, began) == 0  # both answered by the index alone


def test_a_stale_document_is_reverified_against_bigquery_in_the_background(settings, warehouse, api_only_org):
    org = api_only_org()
    document = _document(settings, org["api_key"])
    document.update({"verified_at": datetime.now(UTC) - timedelta(hours=1)})
    # A change made directly in BigQuery (a manual fix): the index does not know it.
    warehouse.execute(
        f"UPDATE `{central_table(settings, 'org_api_keys')}` SET is_active = FALSE WHERE api_key_id = @id",
        {"id": org["api_key_id"]},
    )
    cache = KeyCache()
    # Answered from the stale document (within KEY_INDEX_VERIFY_SECONDS), which one background lookup verifies.
    assert authenticate_org(warehouse, settings, org["api_key"], cache).org_slug == org["org_slug"]
    _wait_for(lambda: not auth.verifying(document.id))
    assert document.get().to_dict()["is_active"] is False
    assert _refused(warehouse, settings, org["api_key"], cache) == "UNAUTHENTICATED"
    assert _refused(warehouse, settings, org["api_key"], KeyCache()) == "UNAUTHENTICATED"
