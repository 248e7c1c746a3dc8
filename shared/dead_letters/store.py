"""Dead letters: drain the providers' dead-letter subscriptions into a central table, and list what is there."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.platform.identifiers import is_org_slug, is_run_id
from shared.platform.logs import log
from shared.platform.settings import Settings, central_table
from shared.warehouse.adapter import Warehouse
from shared.warehouse.params import Typed
from shared.worker.pipelines import load_pipelines

TABLE = "org_meta_dead_letters"
PULL_BATCH = 50  # messages per pull, stored by one MERGE
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
_TYPES = {"delivery_attempts": "INT64", "dead_lettered_at": "TIMESTAMP", "stored_at": "TIMESTAMP"}


def run_providers(settings: Settings) -> list[str]:
    """Providers with pipelines: each has a run topic and a dead-letter subscription."""
    return sorted({config.provider for config in load_pipelines(settings.config_dir).values()})


def drain(warehouse: Warehouse, settings: Settings, subscriber) -> int:
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
            store(warehouse, settings, [message_row(provider, item) for item in received])
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


def _run_states(warehouse: Warehouse, settings: Settings, run_ids: list[str]) -> dict[str, dict]:
    """Each run's status and error now, with its last transition's reason (why a PENDING run was handed back)."""
    if not run_ids:
        return {}
    runs = warehouse.query(
        f"SELECT pipeline_logging_id, status, error_code, error_message "
        f"FROM `{central_table(settings, 'org_meta_pipeline_runs')}` WHERE pipeline_logging_id IN UNNEST(@ids)",
        {"ids": run_ids},
    )
    moves = warehouse.query(
        f"SELECT pipeline_logging_id, reason, at FROM `{central_table(settings, 'org_meta_state_transitions')}` "
        "WHERE pipeline_logging_id IN UNNEST(@ids) ORDER BY at",
        {"ids": run_ids},
    )
    last_reason = {move["pipeline_logging_id"]: move["reason"] for move in moves}  # ordered: the last wins
    return {
        run["pipeline_logging_id"]: {**run, "reason": last_reason.get(run["pipeline_logging_id"])}
        for run in runs
    }


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


def store(warehouse: Warehouse, settings: Settings, rows: list[dict]) -> None:
    """Insert the rows not stored yet (one MERGE on message_id: a message pulled twice is one row)."""
    now = datetime.now(UTC)
    states = _run_states(
        warehouse, settings, sorted({r["pipeline_logging_id"] for r in rows if r["pipeline_logging_id"]})
    )
    selects, params = [], {}
    for i, row in enumerate(_with_reason(r, states.get(r["pipeline_logging_id"]), now) for r in rows):
        selects.append("SELECT " + ", ".join(f"@{column}_{i} AS {column}" for column in _COLUMNS))
        params.update({f"{c}_{i}": Typed(row[c], _TYPES.get(c, "STRING")) for c in _COLUMNS})
    columns = ", ".join(_COLUMNS)
    warehouse.execute(
        f"""
        MERGE `{central_table(settings, TABLE)}` AS d
        USING ({" UNION ALL ".join(selects)}) AS s ON d.message_id = s.message_id
        WHEN NOT MATCHED THEN INSERT ({columns}, replay_count)
          VALUES ({", ".join(f"s.{c}" for c in _COLUMNS)}, 0)
        """,
        params,
    )


def list_letters(
    warehouse: Warehouse,
    settings: Settings,
    *,
    provider: str | None = None,
    org: str | None = None,
    message_ids: list[str] | None = None,
    limit: int = 100,
) -> list[dict]:
    """Stored dead letters, newest first, with the run's status now beside its status when dead-lettered."""
    where, params = ["TRUE"], {"limit": limit}
    for name, value in (("provider", provider), ("org_slug", org)):
        if value:
            where.append(f"d.{name} = @{name}")
            params[name] = value
    if message_ids is not None:
        if not message_ids:
            return []
        where.append("d.message_id IN UNNEST(@ids)")
        params["ids"] = list(message_ids)
    return warehouse.query(
        f"""
        SELECT d.* EXCEPT (payload, stored_at), r.status AS current_status
        FROM `{central_table(settings, TABLE)}` AS d
        LEFT JOIN `{central_table(settings, "org_meta_pipeline_runs")}` AS r
          ON r.pipeline_logging_id = d.pipeline_logging_id AND r.org_slug = d.org_slug
        WHERE {" AND ".join(where)}
        ORDER BY d.dead_lettered_at DESC, d.message_id LIMIT @limit
        """,
        params,
    )
