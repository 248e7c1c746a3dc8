"""Secrets handling: org API keys (peppered HMAC hashes) and credential encryption through Cloud KMS."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from shared.platform.errors import TerminalError, TransientError

API_KEY_PREFIX = "dps_"


def new_api_key() -> str:
    """A fresh org API key: a recognisable prefix and 256 random bits."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str, pepper: str) -> str:
    """The stored form of a key: HMAC-SHA256 under a secret pepper, so a leaked table cannot be brute-forced."""
    return hmac.new(pepper.encode(), api_key.encode(), hashlib.sha256).hexdigest()


def key_hash_matches(api_key: str, pepper: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(hash_api_key(api_key, pepper), stored_hash)


def encrypt_secret(kms_client, key_name: str, plaintext: str) -> bytes:
    """Encrypt a credential with Cloud KMS; the associated data binds it to its key name."""
    response = kms_client.encrypt(request={"name": key_name, "plaintext": plaintext.encode()})
    return bytes(response.ciphertext)


def decrypt_secret(kms_client, key_name: str, ciphertext: bytes) -> str:
    """Decrypt a credential with Cloud KMS; transient KMS outages raise TransientError."""
    from google.api_core import exceptions

    try:
        response = kms_client.decrypt(request={"name": key_name, "ciphertext": ciphertext})
    except (
        exceptions.ServiceUnavailable,
        exceptions.DeadlineExceeded,
        exceptions.InternalServerError,
    ) as exc:
        raise TransientError("KMS_UNAVAILABLE", "Cloud KMS is unavailable") from exc
    except exceptions.GoogleAPICallError as exc:
        raise TerminalError(
            "CREDENTIAL_UNREADABLE",
            "The stored credential cannot be decrypted; store it again with the current key.",
        ) from exc
    return bytes(response.plaintext).decode()
