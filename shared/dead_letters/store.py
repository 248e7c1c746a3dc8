"""Dead letters: drain the providers' dead-letter subscriptions into Firestore (one document per message), and
list what is there."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.platform.identifiers import is_org_slug, is_run_id
from shared.platform.logs import log
from shared.platform.settings import Settings
from shared.runs import control
from shared.worker.pipelines import load_pipelines

PULL_BATCH = 50  # messages per pull
MAX_BATCHES_PER_PROVIDER = 20  # one drain stores at most 1,000 a provider; the next call takes the rest
PULL_TIMEOUT_SECONDS = 10
PAYLOAD_LIMIT = 10_000
DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"  # attributes Pub/Sub adds when it dead-letters
SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
_COLUMNS = (
    "message_id",
    "provider",
    "org_slug",
    "pipeline_logging_id",
    "pipeline_id",
    "delivery_attempts",
    "source_subscription",
    "dead_lettered_at",
    "stored_at",
    "run_status",
    "error_code",
    "error_message",
    "payload",
)


def run_providers(settings: Settings) -> list[str]:
    """Providers with pipelines: each has a run topic and a dead-letter subscription."""
    return sorted({config.provider for config in load_pipelines(settings.config_dir).values()})


def drain(settings: Settings, subscriber) -> int:
    """Move every waiting dead letter into the table; a batch is acknowledged only once its rows are stored
    (a failure leaves it to be pulled again, and storing is idempotent by message id). Returns rows new or seen."""
    from google.api_core import exceptions

    stored = 0
    for provider in run_providers(settings):
        path = subscriber.subscription_path(settings.project, settings.dead_letter_subscription_for(provider))
        for _ in range(MAX_BATCHES_PER_PROVIDER):
            try:
                # return_immediately: an empty subscription answers at once instead of holding the request open
                # (Pub/Sub may then return fewer than are waiting; the next drain takes them).
                response = subscriber.pull(
                    request={"subscription": path, "max_messages": PULL_BATCH, "return_immediately": True},
                    timeout=PULL_TIMEOUT_SECONDS,
                )
            except exceptions.NotFound:
                log("WARNING", f"no dead-letter subscription {path}; nothing drained for {provider}")
                break
            received = list(response.received_messages)
            if not received:
                break
            store(control.control_db(settings), [message_row(provider, item) for item in received])
            subscriber.acknowledge(
                request={"subscription": path, "ack_ids": [item.ack_id for item in received]}
            )
            stored += len(received)
    return stored


def message_row(provider: str, received) -> dict:
    """The table row of one pulled dead letter (run fields are None when the payload is not a run request)."""
    message = received.message
    attributes = dict(message.attributes)
    payload = bytes(message.data).decode("utf-8", "replace")
    try:
        data = json.loads(payload)
        data = data if isinstance(data, dict) else {}
    except ValueError:
        data = {}
    org, run_id = data.get("org_slug"), data.get("pipeline_logging_id")
    count = attributes.get(DELIVERY_COUNT, "")
    return {
        "message_id": message.message_id,
        "provider": provider,
        "org_slug": org if isinstance(org, str) and is_org_slug(org) else None,
        "pipeline_logging_id": run_id if isinstance(run_id, str) and is_run_id(run_id) else None,
        "pipeline_id": str(data["pipeline_id"])[:200] if data.get("pipeline_id") else None,
        "delivery_attempts": int(count) if count.isdigit() else None,
        "source_subscription": attributes.get(SOURCE_SUBSCRIPTION),
        "dead_lettered_at": datetime.fromtimestamp(message.publish_time.timestamp(), UTC),
        "payload": payload[:PAYLOAD_LIMIT],
    }


def _run_states(db, rows: list[dict]) -> dict[str, dict]:
    """Each letter's run as it is now (status, error, the reason of its last status change), by run id."""
    keyed = {
        (r["org_slug"], r["pipeline_logging_id"]) for r in rows if r["org_slug"] and r["pipeline_logging_id"]
    }
    if not keyed:
        return {}
    refs = [control.run_ref(db, org, run_id) for org, run_id in sorted(keyed)]
    states = {}
    for snapshot in db.get_all(refs):
        if snapshot.exists:
            run = snapshot.to_dict()
            states[snapshot.id] = {
                "status": run.get("status"),
                "error_code": run.get("error_code"),
                "error_message": run.get("error_message"),
                "reason": run.get("last_reason"),
            }
    return states


def _with_reason(row: dict, state: dict | None, now: datetime) -> dict:
    """The row with the run's state at this moment: its error if it has one, else why it was last moved."""
    if state is None:
        status, code, message = None, "RUN_NOT_FOUND", "No run row for this message."
    else:
        status, code = state["status"], state["error_code"] or state["reason"]
        message = state["error_message"] or (
            f"Pub/Sub gave up after {row['delivery_attempts'] or 'its'} deliveries while the run was {status}"
            f" (last transition: {state['reason'] or 'none'})."
        )
    return {
        **row,
        "stored_at": now,
        "run_status": status,
        "error_code": code,
        "error_message": message[:1000],
    }


def store(db, rows: list[dict]) -> None:
    """Store the letters not stored yet, one document per message id (a message pulled twice is one
    document: `create` refuses the second)."""
    from google.api_core import exceptions

    now = datetime.now(UTC)
    states = _run_states(db, rows)
    for row in rows:
        letter = _with_reason(row, states.get(row["pipeline_logging_id"]), now)
        document = {
            **{column: letter[column] for column in _COLUMNS},
            "replay_count": 0,
            "replayed_at": None,
            "expire_at": now + control.DEAD_LETTER_RETENTION,
        }
        try:
            control.dead_letter_ref(db, row["message_id"]).create(document)
        except exceptions.AlreadyExists:
            pass


def list_letters(
    db,
    *,
    provider: str | None = None,
    org: str | None = None,
    message_ids: list[str] | None = None,
    limit: int = 100,
) -> list[dict]:
    """Stored dead letters, newest first, with the run's status now beside its status when dead-lettered."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    if message_ids is not None:
        if not message_ids:
            return []
        snapshots = [s for s in db.get_all([control.dead_letter_ref(db, m) for m in message_ids]) if s.exists]
        letters = [s.to_dict() for s in snapshots]
        letters = [
            letter
            for letter in letters
            if (not provider or letter["provider"] == provider) and (not org or letter["org_slug"] == org)
        ]
    else:
        query = db.collection(control.DEAD_LETTERS)
        for name, value in (("provider", provider), ("org_slug", org)):
            if value:
                query = query.where(filter=FieldFilter(name, "==", value))
        query = query.order_by("dead_lettered_at", direction=firestore.Query.DESCENDING).limit(limit)
        letters = [snapshot.to_dict() for snapshot in query.stream()]
    letters.sort(key=lambda letter: (-letter["dead_lettered_at"].timestamp(), letter["message_id"]))
    states = _run_states(db, letters)
    out = []
    for letter in letters[:limit]:
        shown = {
            key: value for key, value in letter.items() if key not in ("payload", "stored_at", "expire_at")
        }
        row = control.from_document(shown)
        state = states.get(letter["pipeline_logging_id"]) if letter["pipeline_logging_id"] else None
        out.append({**row, "current_status": state["status"] if state else None})
    return out


def mark_replayed(db, message_ids: list[str]) -> None:
    """Count a replay on each letter (a transform: no read, no conflict with a concurrent replay)."""
    from google.cloud import firestore

    now = datetime.now(UTC)
    for message_id in message_ids:
        control.dead_letter_ref(db, message_id).update(
            {"replay_count": firestore.Increment(1), "replayed_at": now}
        )
