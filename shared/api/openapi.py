"""The OpenAPI document of the `api` function, read from openapi.yaml beside this module."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")


@functools.cache
def load_openapi() -> dict:
    """The parsed document; read once per process (it ships with the code and never changes at run time)."""
    # BaseLoader would keep every scalar a string; safe_load gives the ints and booleans the document means.
    # Dates are written quoted in the YAML, so safe_load never turns an example into a datetime.date.
    with OPENAPI_PATH.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)
