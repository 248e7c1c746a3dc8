"""GCP usage and pricing units → FOCUS UnitFormat (specification/attributes/unit_format.md), per distinct unit."""

from __future__ import annotations

import re

# Google's unit words → FOCUS base units: data sizes as their abbreviations, time as the allowed plural names,
# counts as capitalised nouns (UnitFormat's "Requests", "Characters"...).
_DATA = {
    "byte": "B",
    "bytes": "B",
    "kibibyte": "KiB",
    "mebibyte": "MiB",
    "gibibyte": "GiB",
    "tebibyte": "TiB",
    "pebibyte": "PiB",
    "kilobyte": "KB",
    "megabyte": "MB",
    "gigabyte": "GB",
    "terabyte": "TB",
}
_TIME = {
    "second": "Seconds",
    "seconds": "Seconds",
    "minute": "Minutes",
    "minutes": "Minutes",
    "hour": "Hours",
    "hours": "Hours",
    "day": "Days",
    "days": "Days",
    "month": "Months",
    "months": "Months",
    "year": "Years",
    "years": "Years",
}
# Multipliers Google writes in words or as a suffix ("10 thousand requests", "1k characters").
_SCALE = {"thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_SUFFIX = re.compile(r"^(?P<number>[0-9]+)(?P<suffix>[kKmM]?)$")


def _count(word: str) -> str:
    """A count noun, capitalised and plural: "request" → "Requests", "vCPU" → "vCPUs" kept as Google names it."""
    if word[:1].islower() and not any(ch.isupper() for ch in word):
        word = word[:1].upper() + word[1:]
    return word if word.endswith("s") else word + "s"


def _base(word: str, first: bool) -> str:
    """One base unit; `first` of a compound ("GiB" in "GiB-Months") is singular for counts."""
    lowered = word.lower()
    if lowered in _DATA:
        return _DATA[lowered]
    if lowered in _TIME:
        return _TIME[lowered][:-1] if first else _TIME[lowered]
    plural = _count(word)
    return plural[:-1] if first and plural.endswith("s") and not word.endswith("s") else plural


def focus_unit(unit: str | None) -> str | None:
    """A GCP unit ("gibibyte month", "10 thousand requests", "1k characters", "vCPU-second", "mCPU-seconds") in
    FOCUS UnitFormat ("GiB-Months", "10000 Requests", "1000 Characters", "vCPU-Seconds", "mCPU-Seconds")."""
    if unit is None or not unit.strip():
        return None
    words = unit.replace("-", " ").split()
    quantity = 1
    while words:  # leading quantities: "10", "1k", "thousand"
        match = _SUFFIX.match(words[0])
        if match:
            scale = {"": 1, "k": 1000, "m": 1_000_000}[match["suffix"].lower()]
            quantity *= int(match["number"]) * scale
        elif words[0].lower() in _SCALE:
            quantity *= _SCALE[words[0].lower()]
        else:
            break
        words = words[1:]
    if not words:
        return str(quantity) if quantity != 1 else "Units"
    if len(words) == 1:
        text = _base(words[0], first=False)
    else:  # a quantity sustained over time ("gibibyte month") or per unit: <singular>-<plural>
        text = "-".join([_base(words[0], first=True), *(_base(w, first=False) for w in words[1:])])
    return f"{quantity} {text}" if quantity != 1 else text
