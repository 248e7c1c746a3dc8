"""Each alert once: a Firestore ledger entry is created before the alert's BigQuery row and its publish, and
finished after them

    orgs/{org}/alerts/{alert_id}    state: claimed -> written (row in `alerts`) -> published (on cost-alerts)
                                    token, claimed_at, row (the alert, JSON-safe), webhook_delivered_at

`create()` fails for every caller but one, however many deliveries evaluate the same alert at once, so one caller
writes the row and publishes. A caller that died between the steps leaves the entry claimed or written: the next
evaluation that meets it after LEASE_SECONDS takes it over in a transaction and finishes the steps left (a row
already in the table is not written again: it checks by alert_id). Publishing is at-least-once only where a
process died between the publish and marking it: every message carries the alert_id for consumers to dedupe,
and the notifier marks the webhook delivery in this entry.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from shared.platform.errors import TransientError
from shared.platform.logs import log

COLLECTION = "alerts"
TABLE = "alerts"
TOPIC = (
    "cost-alerts"  # terraform/modules/alerts makes it, with the notifier's push and the platform's pull subs
)
LEASE_SECONDS = 60  # far longer than a row insert and a publish; a holder that is still alive is left alone
CLAIMED, WRITTEN, PUBLISHED = "claimed", "written", "published"
PUBLISH_TIMEOUT_SECONDS = 30


def entry_ref(db, org_slug: str, alert_id: str):
    """The ledger document of one alert."""
    return db.collection("orgs").document(org_slug).collection(COLLECTION).document(alert_id)


def record_alert(db, warehouse, publisher, settings, row: dict, now: datetime | None = None) -> str:
    """Write `row` (an alert, JSON-safe) to the org's alerts table and publish it, once; returns "raised",
    "recovered" (finished what a dead caller left), "done" (already) or "held" (another caller is on it)."""
    from google.api_core import exceptions

    now = now or datetime.now(UTC)
    org, token = row["org_slug"], uuid.uuid4().hex
    ref = entry_ref(db, org, row["alert_id"])
    entry = {"alert_id": row["alert_id"], "state": CLAIMED, "token": token, "claimed_at": now, "row": row}
    try:
        ref.create(entry)
        state, outcome = CLAIMED, "raised"
    except exceptions.AlreadyExists:
        state = _take_over(db, ref, token, now)
        if state in (PUBLISHED, None):
            return "done" if state == PUBLISHED else "held"
        outcome = "recovered"
    except (exceptions.ServiceUnavailable, exceptions.DeadlineExceeded) as exc:
        raise TransientError("BACKEND_UNAVAILABLE", "Firestore is unavailable (alert ledger).") from exc
    if state == CLAIMED:
        if outcome == "raised" or not _row_exists(warehouse, settings, org, row["alert_id"]):
            warehouse.append_rows(settings.org_dataset(org), TABLE, [_table_row(row)], [row["alert_id"]])
        ref.update({"state": WRITTEN})
    publish_alert(publisher, settings, row)
    ref.update({"state": PUBLISHED, "published_at": datetime.now(UTC)})
    log("INFO", f"alert {outcome}: {row['message']}", org_slug=org, alert_id=row["alert_id"])
    return outcome


def _take_over(db, ref, token: str, now: datetime) -> str | None:
    """The state of an existing entry if this caller now holds it (its lease ran out), PUBLISHED if it is done,
    None while another caller's lease runs."""
    from google.cloud import firestore

    from shared.runs.control import transact

    @firestore.transactional
    def claim(transaction):
        entry = ref.get(transaction=transaction).to_dict()
        if entry["state"] == PUBLISHED:
            return PUBLISHED
        if entry["claimed_at"] > now - timedelta(seconds=LEASE_SECONDS):
            return None
        transaction.update(ref, {"token": token, "claimed_at": now})
        return entry["state"]

    return transact(db, claim)


def _row_exists(warehouse, settings, org_slug: str, alert_id: str) -> bool:
    table = warehouse.table_id(settings.org_dataset(org_slug), TABLE)
    found = warehouse.query(f"SELECT COUNT(*) AS n FROM `{table}` WHERE alert_id = @id", {"id": alert_id})
    return found[0]["n"] > 0


def _table_row(row: dict) -> dict:
    """The alerts table's columns of an alert (the message also names its org)."""
    return {key: value for key, value in row.items() if key != "org_slug"}


def publish_alert(publisher, settings, row: dict) -> str:
    """Publish the alert on cost-alerts (attributes name the org, alert and kind); TransientError if refused."""
    topic = publisher.topic_path(settings.project, TOPIC)
    data = json.dumps(row, separators=(",", ":"), sort_keys=True).encode()
    try:
        future = publisher.publish(
            topic, data, org_slug=row["org_slug"], alert_id=row["alert_id"], kind=row["kind"]
        )
        return future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
    except Exception as exc:  # the entry stays written: the next evaluation publishes it
        raise TransientError("BACKEND_UNAVAILABLE", "An alert could not be published.") from exc
