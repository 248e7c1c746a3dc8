"""Org API keys: issued with 256 random bits and a checksum, stored only as peppered HMAC hashes.

A key is `dpsk_` + 43 base62 characters (256 random bits) + 6 base62 characters of CRC-32 over the prefix and the
random part, as GitHub's and Stripe's tokens do: a random, truncated or mistyped string fails the checksum and is
refused without any lookup (a forgery passes one time in 2^32), and secret scanners can recognise a leaked key.
Keys issued before the checksum (`dps_` + 43 URL-safe base64 characters) keep working; they are recognised by
their shape only, so they are looked up (bounded and cached, see shared/tenancy/key_lookup.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib

API_KEY_PREFIX = "dpsk_"
LEGACY_API_KEY_PREFIX = "dps_"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_CHARS = 43  # 62^43 > 2^256
CHECKSUM_CHARS = 6  # 62^6 > 2^32: every CRC-32 fits
_CURRENT = re.compile(rf"{API_KEY_PREFIX}([0-9A-Za-z]{{{RANDOM_CHARS}}})([0-9A-Za-z]{{{CHECKSUM_CHARS}}})")
_LEGACY = re.compile(rf"{LEGACY_API_KEY_PREFIX}[A-Za-z0-9_-]{{43}}")

CURRENT, LEGACY = "current", "legacy"


def _base62(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32((API_KEY_PREFIX + random_part).encode()), CHECKSUM_CHARS)


def new_api_key() -> str:
    """A fresh org API key: the prefix, 256 random bits in base62 and the checksum."""
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_CHARS))
    return API_KEY_PREFIX + random_part + _checksum(random_part)


def key_format(api_key: str) -> str | None:
    """CURRENT for a well-formed key whose checksum holds, LEGACY for the shape of a key issued before checksums,
    None for anything else (no key of this service: refuse it without a lookup)."""
    match = _CURRENT.fullmatch(api_key)
    if match:
        random_part, checksum = match.groups()
        return CURRENT if hmac.compare_digest(_checksum(random_part), checksum) else None
    return LEGACY if _LEGACY.fullmatch(api_key) else None


def hash_api_key(api_key: str, pepper: str) -> str:
    """The stored form of a key: HMAC-SHA256 under a secret pepper, so a leaked table cannot be brute-forced."""
    return hmac.new(pepper.encode(), api_key.encode(), hashlib.sha256).hexdigest()


def key_hash_matches(api_key: str, pepper: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(hash_api_key(api_key, pepper), stored_hash)
