"""Where an org's SaaS plans live: Firestore, the control-plane store, one document per plan under the org's subtree

    orgs/{org}/saas_subscriptions/{subscription_id}
        subscription_id, version (the newest number), terms (in force from the latest effective date on),
        created_at, updated_at,
        versions: [{version, effective_date, change: create|change|end,
                    changes (the fields it sets), terms (what they gave from its effective date), created_at}, ...]

Every change appends a version in one Firestore transaction that checks the version the caller last saw (its
`If-Match`): two concurrent changes never lose one, the later one is refused with 409 SAAS_PLAN_CONFLICT. The
versions are an array in the plan's document (one read gives the pipeline a plan's whole history): a version is
about 1 KiB; a change that would take the document past MAX_VERSIONS or MAX_DOCUMENT_BYTES (Firestore allows 1 MiB)
is refused with 409, so a document never grows past what Firestore stores.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime

from shared.platform.errors import ApiError
from shared.saas.terms import PlanInvalid, apply_change, in_force, validate_terms

COLLECTION = "saas_subscriptions"
MAX_VERSIONS = 500  # ~1 KiB each (more with many tags): a plan changed daily for over a year
MAX_DOCUMENT_BYTES = 800_000  # Firestore's limit is 1 MiB a document: refuse a change before it
SUBSCRIPTION_ID = re.compile(r"^saas_[0-9a-f]{24}$")


def _collection(db, org_slug: str):
    return db.collection("orgs").document(org_slug).collection(COLLECTION)


def invalid(error: PlanInvalid) -> ApiError:
    """The 422 of a refused plan or change, naming the field."""
    return ApiError("INVALID_REQUEST", str(error))


def new_subscription_id() -> str:
    """A random plan id (not guessable; the org's subtree scopes it anyway)."""
    return f"saas_{uuid.uuid4().hex[:24]}"


def _not_found() -> ApiError:
    return ApiError("SAAS_PLAN_NOT_FOUND", "No such SaaS plan in this org.")


def create_plan(db, org_slug: str, raw: dict, now: datetime | None = None) -> dict:
    """Store a new plan as version 1, effective from its start_date; the stored document."""
    try:
        terms = validate_terms(raw)
    except PlanInvalid as error:
        raise invalid(error) from None
    document = new_document(new_subscription_id(), terms, now or datetime.now(UTC))
    _collection(db, org_slug).document(document["subscription_id"]).create(document)
    return document


def new_document(subscription_id: str, terms: dict, now: datetime) -> dict:
    """A plan's document at version 1 (validated `terms`, effective from their start_date)."""
    version = _version(1, terms["start_date"], "create", terms, terms, now)
    return {
        "subscription_id": subscription_id,
        "version": 1,
        "terms": terms,
        "versions": [version],
        "created_at": now,
        "updated_at": now,
    }


def _version(number: int, effective: str, kind: str, changes: dict, terms: dict, now: datetime) -> dict:
    """A version: the fields it changes (priced from its effective date on) and the terms they gave then."""
    return {
        "version": number,
        "effective_date": effective,
        "change": kind,
        "changes": changes,
        "terms": terms,
        "created_at": now,
    }


def change_plan(
    db,
    org_slug: str,
    subscription_id: str,
    change: dict,
    effective: date,
    expected_version: int | None = None,
    *,
    end: bool = False,
    now: datetime | None = None,
) -> dict:
    """Append a version (the change's terms from `effective` on; `end`: no cycle starts from `effective`) in one
    transaction; 404, 409 when `expected_version` is not the plan's newest, 422 for a refused change."""
    from google.cloud import firestore

    from shared.runs.control import transact

    if not SUBSCRIPTION_ID.match(subscription_id):
        raise _not_found()
    ref = _collection(db, org_slug).document(subscription_id)
    now = now or datetime.now(UTC)

    @firestore.transactional
    def append(transaction):
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists:
            raise _not_found()
        document = snapshot.to_dict()
        if expected_version is not None and expected_version != document["version"]:
            raise ApiError(
                "SAAS_PLAN_CONFLICT",
                f"The plan is at version {document['version']}, not {expected_version}: read it and retry.",
            )
        updated = next_version(document, change, effective, end, now)
        transaction.set(ref, updated)
        return updated

    return transact(db, append)


def next_version(document: dict, change: dict, effective: date, end: bool, now: datetime) -> dict:
    """The plan's document with one more version (pure: the transaction's decision, unit-tested). The change is
    checked against the terms in force on its effective date; `terms` becomes the terms from the latest
    effective date on."""
    if effective < date.fromisoformat(document["versions"][0]["terms"]["start_date"]):
        raise invalid(PlanInvalid("effective_date", "is before the plan's start_date"))
    if len(document["versions"]) >= MAX_VERSIONS:
        raise ApiError(
            "SAAS_PLAN_CONFLICT", f"The plan has {MAX_VERSIONS} versions: end it and add a new one."
        )
    delta = {**change, "end_date": effective.isoformat()} if end else change
    try:
        terms = apply_change(in_force(document["versions"], effective)["terms"], delta)
    except PlanInvalid as error:
        raise invalid(error) from None
    number = document["version"] + 1
    kind = "end" if end else "change"
    versions = [
        *document["versions"],
        _version(number, effective.isoformat(), kind, {k: terms[k] for k in delta}, terms, now),
    ]
    latest = max(date.fromisoformat(v["effective_date"]) for v in versions)
    updated = {
        **document,
        "version": number,
        "terms": in_force(versions, latest)["terms"],
        "versions": versions,
        "updated_at": now,
    }
    if len(json.dumps(updated, default=str)) > MAX_DOCUMENT_BYTES:
        raise ApiError("SAAS_PLAN_CONFLICT", "The plan's history is full: end it and add a new one.")
    return updated


def get_plan(db, org_slug: str, subscription_id: str) -> dict:
    """One plan of the org with its version history; 404 for another org's or an unknown id."""
    if not SUBSCRIPTION_ID.match(subscription_id):
        raise _not_found()
    snapshot = _collection(db, org_slug).document(subscription_id).get()
    if not snapshot.exists:
        raise _not_found()
    return snapshot.to_dict()


def list_plans(db, org_slug: str, limit: int, after: str | None = None) -> tuple[list[dict], str | None]:
    """A page of the org's plans (without their history) by id, and the id to resume after (None: the last)."""
    query = _collection(db, org_slug).order_by("subscription_id").limit(limit + 1)
    if after:
        query = query.start_after({"subscription_id": after})
    documents = [snapshot.to_dict() for snapshot in query.stream()]
    page = [{k: v for k, v in doc.items() if k != "versions"} for doc in documents[:limit]]
    return page, (page[-1]["subscription_id"] if len(documents) > limit else None)


def org_subscriptions(db, org_slug: str, timeout: float | None = None) -> list[dict]:
    """Every plan of the org with its versions (what the pipeline prices), in id order."""
    query = _collection(db, org_slug).order_by("subscription_id")
    stream = query.stream(retry=None, timeout=timeout) if timeout else query.stream(retry=None)
    return [snapshot.to_dict() for snapshot in stream]
