"""The serving index of API keys in Firestore (`api_keys/{key_hash}`): one document read answers a cold key; BigQuery
stays the record, and a document is rebuilt from it whenever it is missing or older than KEY_INDEX_VERIFY_SECONDS."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from shared.platform.settings import Settings
from shared.runs.control import API_KEYS, api_key_ref, control_db, from_document

# A document older than this is still used, but re-verified against BigQuery in the background: a change made
# directly in BigQuery (a manual fix, an older version of the admin tools) takes effect within this bound.
KEY_INDEX_VERIFY_SECONDS = 300.0
FIELDS = ("org_slug", "api_key_id", "is_active", "expires_at", "plan", "subscription_status", "providers")
BATCH_LIMIT = 500  # Firestore's writes per batch


class KeyIndex:
    """The `api_keys` collection of one Firestore database; `clock` is injectable for tests."""

    def __init__(self, db, verify_seconds: float = KEY_INDEX_VERIFY_SECONDS, clock=lambda: datetime.now(UTC)):
        self.db, self.verify_seconds, self.clock = db, verify_seconds, clock

    def read(self, key_hash: str) -> dict | None:
        """The key's document (timestamps in UTC), or None when the index has none."""
        snapshot = api_key_ref(self.db, key_hash).get()
        return from_document(snapshot.to_dict()) if snapshot.exists else None

    def is_stale(self, document: dict) -> bool:
        """Whether the document was last verified against BigQuery longer than `verify_seconds` ago."""
        verified_at = document.get("verified_at")
        return verified_at is None or self.clock() - verified_at > timedelta(seconds=self.verify_seconds)

    def write_from_lookup(self, key_hash: str, entry: dict) -> None:
        """Replace the key's document with BigQuery's answer `entry` (FIELDS), verified now."""
        document = {field: entry.get(field) for field in FIELDS}
        api_key_ref(self.db, key_hash).set({**document, "verified_at": self.clock()})

    def delete(self, key_hash: str) -> None:
        """Remove the key's document (BigQuery has no such key)."""
        api_key_ref(self.db, key_hash).delete()

    def deactivate(self, org_slug: str, api_key_id: str) -> None:
        """Mark the org's key `api_key_id` inactive (if indexed)."""
        self._update_org(org_slug, {"is_active": False}, lambda doc: doc.get("api_key_id") == api_key_id)

    def set_org_fields(self, org_slug: str, **fields) -> None:
        """Set `fields` (e.g. subscription_status) on every indexed key of the org."""
        self._update_org(org_slug, fields)

    def add_provider(self, org_slug: str, provider: str) -> None:
        """Add a provider with an active credential to every indexed key of the org."""
        from google.cloud import firestore

        self._update_org(org_slug, {"providers": firestore.ArrayUnion([provider])})

    def _update_org(self, org_slug: str, changes: dict, keep=lambda document: True) -> None:
        """Apply `changes` to the org's documents that `keep` selects, in batches."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        # An equality filter on one field of one collection: Firestore's automatic single-field index serves it.
        query = self.db.collection(API_KEYS).where(filter=FieldFilter("org_slug", "==", org_slug))
        refs = [snapshot.reference for snapshot in query.stream() if keep(snapshot.to_dict())]
        for start in range(0, len(refs), BATCH_LIMIT):
            batch = self.db.batch()
            for ref in refs[start : start + BATCH_LIMIT]:
                batch.update(ref, changes)
            batch.commit()


@functools.cache
def index_of(settings: Settings) -> KeyIndex:
    """The key index of these settings' Firestore database (one per process and settings)."""
    return KeyIndex(control_db(settings))
