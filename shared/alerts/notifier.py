"""The notifier function's body: one cost-alerts delivery → the org's signed webhook, once. A receiver that fails
or does not answer raises (Pub/Sub retries with backoff, then the dead-letter topic holds it); an org without a
webhook, or an alert its webhook already took, is acknowledged."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.alerts import webhook
from shared.alerts.ledger import entry_ref
from shared.platform.errors import TransientError
from shared.platform.identifiers import is_org_slug
from shared.platform.logs import log, log_context

DELIVERY_TIMEOUT_SECONDS = 10.0


@dataclass
class NotifierDeps:
    """What the notifier talks to (built once per process; tests pass their own)."""

    settings: object
    db: object
    kms_client: object
    transport: object = None  # httpx transport; None: guarded egress in the cloud, plain locally


@functools.cache
def default_deps() -> NotifierDeps:
    """The process's clients, created lazily once."""
    from shared.platform import clients
    from shared.platform.settings import get_settings
    from shared.runs.control import control_db

    settings = get_settings()
    return NotifierDeps(settings, control_db(settings), clients.kms_client())


def decode_alert(event_data: dict) -> dict | None:
    """The alert inside a Pub/Sub CloudEvent, or None if malformed (acknowledged: it can never be delivered)."""
    try:
        alert = json.loads(base64.b64decode(event_data["message"]["data"]))
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None
    ok = isinstance(alert, dict) and is_org_slug(str(alert.get("org_slug"))) and alert.get("alert_id")
    return alert if ok else None


def handle_alert_event(event_data: dict, deps: NotifierDeps) -> str:
    """Deliver one alert to its org's webhook; returns the outcome, raises TransientError to be retried."""
    alert = decode_alert(event_data)
    if alert is None:
        log("ERROR", "undecodable alert message dropped")
        return "dropped"
    org, alert_id = alert["org_slug"], alert["alert_id"]
    with log_context(org_slug=org, alert_id=alert_id):
        configured = webhook.load_webhook(deps.db, deps.kms_client, org)
        if configured is None:
            return "no_webhook"
        ledger = entry_ref(deps.db, org, alert_id)
        entry = ledger.get()
        if entry.exists and entry.to_dict().get("webhook_delivered_at"):
            return "duplicate"
        url, secret = configured
        _post(url, secret, alert, deps)
        if entry.exists:
            ledger.update({"webhook_delivered_at": datetime.now(UTC)})
        log("INFO", "alert delivered to the org's webhook")
        return "delivered"


def _post(url: str, secret: str, alert: dict, deps: NotifierDeps) -> None:
    import httpx

    body = json.dumps(alert, separators=(",", ":"), sort_keys=True).encode()
    transport = deps.transport
    if transport is None and not deps.settings.is_local:
        from shared.providers.kit.address_guard import guarded_transport

        transport = guarded_transport()  # an org's URL must not reach the platform's own network
    try:
        with httpx.Client(transport=transport, timeout=DELIVERY_TIMEOUT_SECONDS) as client:
            response = client.post(
                url, content=body, headers=webhook.signed_headers(secret, body, alert["alert_id"])
            )
    except httpx.HTTPError as exc:
        raise TransientError(
            "WEBHOOK_UNREACHABLE", f"The webhook did not answer: {type(exc).__name__}"
        ) from exc
    if not response.is_success:
        raise TransientError("WEBHOOK_REFUSED", f"The webhook answered {response.status_code}.")
