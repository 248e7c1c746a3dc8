"""Runs from the outside and the inside: waiting for a run (or anything) to settle."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until[T](
    condition: Callable[[], T], seconds: float = 60.0, interval: float = 0.05, what: str = ""
) -> T:
    """Call `condition` until it returns something truthy (returned) or `seconds` pass (AssertionError). The
    bound is a timeout for a stuck system, not a claim about speed: keep it generous."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what or condition}"
        time.sleep(interval)
    return result
