"""Scrubbing secrets out of text a provider sent back: the secret itself, its common encodings and its fragments."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
# The shortest run of a secret's characters that is scrubbed. 8 catches the fragments providers echo (a 12-character
# prefix, "sk-...abcd1234"-style hints, a key cut off by a length limit) while a window this long of a random key
# is practically never ordinary text: with 4..7 characters, words and ids in a message would collide with windows
# of a key's public prefix or random part, and useful text would be blanked for nothing. A fragment shorter than 8
# of a key of 32+ random characters leaves the rest of it unknown.
MIN_FRAGMENT = 8
# Escapes decoded before matching, so a secret echoed percent-encoded (either hex case), JSON \u-escaped or
# backslash-escaped is still recognised, even when only some of its characters are escaped.
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})|\\([^u])")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_=-]+")


def _decoded(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`text` with escapes decoded and lower-cased, and for each decoded character its span in `text`."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        escape = _ESCAPE.match(text, i)
        if escape:
            percent, unicode, plain = escape.groups()
            chars.append(chr(int(percent or unicode, 16)) if plain is None else plain)
            spans.append((i, escape.end()))
            i = escape.end()
        else:
            chars.append(text[i])
            spans.append((i, i + 1))
            i += 1
    return "".join(chars).lower(), spans


def _windows(value: str, size: int) -> set[str]:
    size = min(size, len(value))
    return {value[i : i + size] for i in range(len(value) - size + 1)}


def _base64_fragments(secret: str) -> set[str]:
    """Base64 text that encodes MIN_FRAGMENT characters of `secret` wherever they sit in the encoded input (alone,
    or after `user:` in a Basic auth token): for each of the 3 alignments, the output characters whose 6 bits come
    from the window alone."""
    found: set[str] = set()
    for window in _windows(secret.encode(), MIN_FRAGMENT):
        for pad in range(3):
            encoded = base64.b64encode(b"\0" * pad + window).decode()
            stable = encoded[-(-8 * pad // 6) : 8 * (pad + len(window)) // 6]
            found |= {stable.lower(), stable.translate(str.maketrans("+/", "-_")).lower()}
    return {fragment for fragment in found if len(fragment) >= MIN_FRAGMENT}


def _marks(text: str, secrets: Iterable[str]) -> list[bool]:
    """For each character of `text`, whether it belongs to a scrubbed form of one of `secrets`."""
    marked = [False] * len(text)
    decoded, spans = _decoded(text)
    lowered = text.lower()
    for secret in secrets:
        grams = _windows(secret.lower(), MIN_FRAGMENT)
        size = min(MIN_FRAGMENT, len(secret))
        for j in range(len(decoded) - size + 1):
            if decoded[j : j + size] in grams:
                for start, end in spans[j : j + size]:
                    marked[start:end] = [True] * (end - start)
        fragments = _base64_fragments(secret)
        for run in _BASE64_RUN.finditer(lowered):
            # The whole base64 run goes: its edge characters still carry bits of the secret.
            if any(fragment in run.group() for fragment in fragments):
                marked[run.start() : run.end()] = [True] * (run.end() - run.start())
    return marked


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every form of every secret (plain, any case, percent- or JSON-escaped, base64, or a fragment of
    MIN_FRAGMENT+ characters of any of these) replaced by REDACTED."""
    secrets = [s for s in secrets if s]
    if not secrets or not text:
        return text
    marked = _marks(text, secrets)
    out: list[str] = []
    for i, char in enumerate(text):
        if not marked[i]:
            out.append(char)
        elif i == 0 or not marked[i - 1]:
            out.append(REDACTED)
    return "".join(out)
