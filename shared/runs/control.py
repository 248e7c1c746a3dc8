"""Where the control state lives in Firestore: one subtree per org, so that different orgs never share a document.

    orgs/{org}                               quota state: running (slots held), daily and monthly counts
    orgs/{org}/rate/shard-{nn}               the times of the run requests one rate shard counted in the last minute
    orgs/{org}/runs/{run_id}                 a run: status, attempts, slot, slices done / total, history version
    orgs/{org}/runs/{run_id}/slices/{n}      one slice of a fanned-out run
    orgs/{org}/inflight/{fingerprint}        the in-flight duplicate index: the run holding that request
    orgs/{org}/scheduled/{key}               the scheduler's run of one (pipeline, day)
    dead_letters/{message_id}                a stored dead letter
    api_keys/{key_hash}                      the serving index of an API key: org_slug, api_key_id, is_active,
                                             expires_at, plan, subscription_status, providers, verified_at
                                             (shared/tenancy/key_index.py; BigQuery's org_api_keys is the record;
                                             key hashes are random, so orgs never share one; no TTL)

Documents that may go carry `expire_at` (Firestore's TTL policy deletes them; BigQuery keeps the history).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, date, datetime, timedelta

from shared.platform.settings import Settings

ORGS, RUNS, SLICES, RATE, INFLIGHT, SCHEDULED, DEAD_LETTERS, API_KEYS = (
    "orgs",
    "runs",
    "slices",
    "rate",
    "inflight",
    "scheduled",
    "dead_letters",
    "api_keys",
)
RUN_RETENTION = timedelta(days=30)  # a settled run document stays readable this long (then: the history view)
MARKER_RETENTION = timedelta(days=35)  # longer than any schedule looks back
RATE_RETENTION = timedelta(minutes=5)
DEAD_LETTER_RETENTION = timedelta(days=90)
# Firestore holds no DATE: run dates travel as ISO strings, and these fields are converted on the way out.
DATE_FIELDS = ("start_date", "end_date", "quota_day")


TRANSACTION_ATTEMPTS = 12  # an org's instances may race for its documents; each retry keeps its place in line


def transact(db, function):
    """Run `function(transaction)` as a Firestore transaction (retried on contention); a transaction that keeps
    losing, or a Firestore that does not answer, is a TransientError: the caller answers 503 or redelivers."""
    from google.api_core import exceptions

    from shared.platform.errors import TransientError

    try:
        return function(db.transaction(max_attempts=TRANSACTION_ATTEMPTS))
    except ValueError as exc:
        if "Failed to commit transaction" not in str(exc):
            raise
        raise TransientError(
            "BACKEND_UNAVAILABLE", "Too many concurrent changes to the same run; retry."
        ) from exc
    except (
        exceptions.ServiceUnavailable,
        exceptions.DeadlineExceeded,
        exceptions.InternalServerError,
        exceptions.Aborted,
        exceptions.TooManyRequests,
    ) as exc:
        raise TransientError(
            "BACKEND_UNAVAILABLE", f"Firestore is unavailable ({type(exc).__name__})."
        ) from exc


@functools.cache
def control_db(settings: Settings):
    """The Firestore client of these settings (one per process and settings; lazily imported)."""
    from shared.platform.clients import make_firestore_client

    return make_firestore_client(settings)


def org_ref(db, org_slug: str):
    """The org's quota document."""
    return db.collection(ORGS).document(org_slug)


def run_ref(db, org_slug: str, run_id: str):
    """A run's document, under its org: another org's run id names a document that does not exist."""
    return org_ref(db, org_slug).collection(RUNS).document(run_id)


def slice_ref(db, org_slug: str, run_id: str, index: int):
    """One slice of a fanned-out run."""
    return run_ref(db, org_slug, run_id).collection(SLICES).document(f"{index:04d}")


def inflight_ref(db, org_slug: str, fingerprint: str):
    """The duplicate index entry of an in-flight request."""
    return org_ref(db, org_slug).collection(INFLIGHT).document(fingerprint)


def rate_ref(db, org_slug: str, shard: int):
    """One shard of the org's sliding rate window (the times of the requests it counted in the last minute)."""
    return org_ref(db, org_slug).collection(RATE).document(f"shard-{shard:02d}")


def scheduled_key(pipeline_id: str, day: date) -> str:
    """The marker id of the scheduler's run of one pipeline on one day."""
    digest = hashlib.sha256(f"{pipeline_id}|{day}".encode()).hexdigest()[:12]
    return f"{day:%Y%m%d}-{pipeline_id.replace('/', '-')}-{digest}"


def scheduled_ref(db, org_slug: str, pipeline_id: str, day: date):
    """The marker of the scheduler's run of (pipeline, day) for the org."""
    return org_ref(db, org_slug).collection(SCHEDULED).document(scheduled_key(pipeline_id, day))


def dead_letter_ref(db, message_id: str):
    """A stored dead letter (keyed by its message id: storing one twice is one document)."""
    return db.collection(DEAD_LETTERS).document(message_id)


def api_key_ref(db, key_hash: str):
    """An API key's serving index document (keyed by the key's peppered hash, never the key)."""
    return db.collection(API_KEYS).document(key_hash)


def to_document(values: dict) -> dict:
    """Values as Firestore stores them: dates as ISO strings (datetimes stay timestamps)."""
    return {
        key: value.isoformat() if isinstance(value, date) and not isinstance(value, datetime) else value
        for key, value in values.items()
    }


def from_document(values: dict) -> dict:
    """A document's values as the rest of the code uses them: dates as dates, timestamps in UTC."""
    out = {}
    for key, value in values.items():
        if key in DATE_FIELDS and isinstance(value, str):
            value = date.fromisoformat(value)
        elif isinstance(value, datetime):
            value = datetime.fromtimestamp(value.timestamp(), UTC)  # Firestore's DatetimeWithNanoseconds
        out[key] = value
    return out
