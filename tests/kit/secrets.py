"""Secrets in the forms a provider may echo them back in, and the scan that looks for every form in written text.

Deliberately independent of shared.providers.kit.scrub: it lists the forms explicitly instead of decoding text, so
a mistake in the scrubber's decoding is not repeated here.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

FRAGMENT = 8  # shared.providers.kit.scrub.MIN_FRAGMENT: fragments this long count as the secret


def _percent(value: str, hex_format: str) -> str:
    return "".join(f"%{byte:{hex_format}}" for byte in value.encode())


def echo_forms(secret: str) -> dict[str, str]:
    """The secret as providers echo it: URL- and percent-encoded (both hex cases), upper- and lower-cased, base64
    of it and of a Basic auth `user:secret`, JSON-escaped, a 12-character prefix and a middle fragment."""
    return {
        "key": secret,
        "key_urlencoded": quote(secret, safe=""),
        "key_percent_upper": _percent(secret, "02X"),
        "key_percent_lower": _percent(secret, "02x"),
        "key_upper": secret.upper(),
        "key_lower": secret.lower(),
        "key_base64": base64.b64encode(secret.encode()).decode(),
        "key_basic": base64.b64encode(f"api:{secret}".encode()).decode(),
        "key_json_escaped": "".join(f"\\u{ord(c):04x}" for c in secret),
        "key_prefix12": secret[:12],
        "key_fragment": secret[len(secret) // 2 : len(secret) // 2 + FRAGMENT + 2],
    }


def _base64_pieces(secret: str) -> set[str]:
    """Base64 text encoding FRAGMENT characters of `secret` at each of the 3 alignments (its stable middle)."""
    data, pieces = secret.encode(), set()
    for start in range(len(data) - FRAGMENT + 1):
        for pad in range(3):
            encoded = base64.b64encode(b"\0" * pad + data[start : start + FRAGMENT]).decode()
            stable = encoded[(8 * pad + 5) // 6 : 8 * (pad + FRAGMENT) // 6]
            pieces |= {stable, stable.replace("+", "-").replace("/", "_")}
    return pieces


def needles(secret: str) -> set[str]:
    """Lower-cased strings whose presence in lower-cased text means `secret` leaked: every FRAGMENT-character
    window of it, plain, percent-encoded (one hex case: the text is lower-cased) and JSON-escaped, and its base64."""
    windows = {secret[i : i + FRAGMENT] for i in range(max(1, len(secret) - FRAGMENT + 1))}
    found = set()
    for window in windows:
        found |= {window, _percent(window, "02x"), "".join(f"\\u{ord(c):04x}" for c in window)}
    return {n.lower() for n in found | _base64_pieces(secret)}


def leaks(haystacks: dict[str, str], secrets: dict[str, str]) -> list[str]:
    """ "<secret> in <where>" for every secret any of whose forms appears in a haystack."""
    wanted = {what: needles(secret) for what, secret in secrets.items()}
    found = []
    for where, text in haystacks.items():
        lowered = text.lower()
        found += [f"{what} in {where}" for what, ns in wanted.items() if any(n in lowered for n in ns)]
    return found
