"""Org API keys: issued with 256 random bits, stored only as peppered HMAC hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
