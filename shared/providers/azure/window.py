"""The charge days an Azure run loads: whole billing months, and the previous one while Cost Management may still
restate it (the kit's export window)."""

from __future__ import annotations

from datetime import date

from shared.providers.kit.exports import export_load_window


def load_window(start: date, end: date) -> tuple[date, date]:
    """[first, last] charge days of a run of [start, end]."""
    return export_load_window(start, end)
