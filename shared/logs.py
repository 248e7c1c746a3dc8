"""Structured logs: one JSON line per event in Cloud Logging's format, with org, run and step when known."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime


def log(severity: str, message: str, **fields) -> None:
    """Write one structured log line to stdout (Cloud Logging parses it); never pass secrets in `fields`."""
    entry = {"severity": severity, "message": message, "time": datetime.now(UTC).isoformat()}
    entry.update({key: value for key, value in fields.items() if value is not None})
    sys.stdout.write(json.dumps(entry, default=str) + "\n")
    sys.stdout.flush()
