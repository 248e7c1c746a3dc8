"""An org's optional alert webhook: its URL and signing secret (the secret encrypted with Cloud KMS and bound to
the org, as credentials are: shared/tenancy/credentials.py), and the signature of each delivery

    orgs/{org}/alert_settings/webhook    url, encrypted_secret, kms_key_name, updated_at

A delivery is POSTed with X-DPS-Timestamp (Unix seconds), X-DPS-Alert-Id and
X-DPS-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>. A receiver recomputes it over the raw body,
compares in constant time and refuses a timestamp older than a few minutes (a replayed delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

from shared.platform.errors import ApiError

SETTINGS, WEBHOOK = "alert_settings", "webhook"
SIGNATURE_HEADER, TIMESTAMP_HEADER, ALERT_ID_HEADER = "X-DPS-Signature", "X-DPS-Timestamp", "X-DPS-Alert-Id"
MAX_URL = 2000
MIN_SECRET, MAX_SECRET = 24, 200


def associated_data(org_slug: str) -> bytes:
    """What a webhook secret's ciphertext is bound to: a copy under another org does not decrypt."""
    return f"dps-alert-webhook;org={org_slug}".encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-DPS-Signature value of a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signed_headers(secret: str, body: bytes, alert_id: str, now: datetime | None = None) -> dict[str, str]:
    """The headers of one delivery: content type, timestamp, alert id and signature."""
    timestamp = int((now or datetime.now(UTC)).timestamp())
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        ALERT_ID_HEADER: alert_id,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def validate_webhook(body: dict, local: bool) -> tuple[str, str | None]:
    """(url, secret or None: generate one) of a PUT body; 422 naming the bad field. https only, except
    http://127.0.0.1 or localhost in the local environment."""
    unknown = sorted(set(body) - {"url", "secret"})
    if unknown:
        raise ApiError("INVALID_REQUEST", f"{unknown[0]}: unknown field (send url and optionally secret)")
    url = body.get("url")
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise ApiError("INVALID_REQUEST", "url: required, an https:// URL")
    parts = urlsplit(url)
    loopback = local and parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
    if not (parts.scheme == "https" or loopback) or not parts.hostname or parts.username or parts.fragment:
        raise ApiError("INVALID_REQUEST", "url: an https:// URL with a host, no credentials or fragment")
    secret = body.get("secret")
    if secret is not None and (not isinstance(secret, str) or not MIN_SECRET <= len(secret) <= MAX_SECRET):
        raise ApiError("INVALID_REQUEST", f"secret: a string of {MIN_SECRET} to {MAX_SECRET} characters")
    return url, secret


def _ref(db, org_slug: str):
    return db.collection("orgs").document(org_slug).collection(SETTINGS).document(WEBHOOK)


def set_webhook(db, kms_client, settings, org_slug: str, body: dict) -> dict:
    """Store the org's webhook (replacing any); the answer names the secret only when it was generated here."""
    from shared.tenancy.credentials import encrypt_secret

    url, secret = validate_webhook(body, settings.is_local)
    generated = secret is None
    secret = secret or f"whsec_{secrets.token_urlsafe(32)}"
    ciphertext = encrypt_secret(kms_client, settings.kms_key_name, secret, associated_data(org_slug))
    now = datetime.now(UTC)
    _ref(db, org_slug).set(
        {"url": url, "encrypted_secret": ciphertext, "kms_key_name": settings.kms_key_name, "updated_at": now}
    )
    answer = {"url": url, "updated_at": now}
    return {**answer, "secret": secret} if generated else answer


def clear_webhook(db, org_slug: str) -> bool:
    """Remove the org's webhook; False if it had none."""
    ref = _ref(db, org_slug)
    if not ref.get().exists:
        return False
    ref.delete()
    return True


def load_webhook(db, kms_client, org_slug: str) -> tuple[str, str] | None:
    """(url, secret) of the org's webhook, decrypted; None when it has none."""
    from shared.tenancy.credentials import decrypt_secret

    snapshot = _ref(db, org_slug).get()
    if not snapshot.exists:
        return None
    stored = snapshot.to_dict()
    secret = decrypt_secret(
        kms_client, stored["kms_key_name"], stored["encrypted_secret"], associated_data(org_slug)
    )
    return stored["url"], secret
