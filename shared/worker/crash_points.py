"""Crash injection for tests: a worker dies at a named point, as a killed instance would, in local only."""

from __future__ import annotations

import os
import sys

CRASH_ENV = "DPS_CRASH_AT"
# The named points (where a real instance can die and leave work half done):
EXTRACTED = "extracted"  # a step's rows are extracted and transformed, nothing of them loaded yet
LOADED = "loaded"  # a step's slice is loaded, its step row not yet written
EXECUTED = "executed"  # every step loaded, the run not yet marked COMPLETED


def crash_point(name: str, step_id: str | None = None) -> None:
    """Exit at once (status 137, as after SIGKILL) if DPS_CRASH_AT names this point, in local only.

    DPS_CRASH_AT is a point (`extracted`: its first occurrence) or a point in one step (`extracted:costs`).
    """
    wanted = os.environ.get(CRASH_ENV)
    if not wanted or wanted not in (name, f"{name}:{step_id}"):
        return
    # ENVIRONMENT defaults to local exactly as shared.platform.settings reads it; stage and prod never crash on purpose.
    if os.environ.get("ENVIRONMENT", "local").strip().lower() != "local":
        return
    sys.stdout.flush()
    os._exit(137)  # no cleanup, no finally blocks, no transaction rollback from this side: a real crash
