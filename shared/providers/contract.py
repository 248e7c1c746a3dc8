"""What a provider plugs into the executor: processors (extract + transform, or run) named by ps_type."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.platform.settings import Settings


@dataclass(frozen=True)
class Credential:
    """A decrypted provider credential. Never log `secret`; repr hides it."""

    provider: str
    secret: str = field(repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepContext:
    """Everything one step needs; built by the executor for each attempt."""

    org_slug: str
    run_id: str
    start_date: date  # inclusive
    end_date: date  # inclusive
    credential: Credential
    settings: Settings
    deadline: float  # time.monotonic() value after which the step must stop
    http_transport: Any = None  # an httpx transport to inject (tests); None means the real network
    # How request retries wait: the executor's sleep, so tests that script provider faults run fast.
    sleep: Callable[[float], None] = time.sleep
    request_timeout: float | None = None  # seconds one provider request may take; None: http_paging's default
    force_refresh: bool = False  # reload everything in range, even what the provider says did not change
    destination_table: str | None = None  # the step's destination (what a `run` processor writes)

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()

    def ensure_time_left(self, seconds: float, what: str) -> None:
        """Raise STEP_TIMEOUT (transient: the step is retried) unless `seconds` remain: a step never starts a
        commit its deadline could cut short."""
        from shared.platform.errors import TransientError

        if self.seconds_left() < seconds:
            raise TransientError("STEP_TIMEOUT", f"Not enough of the step's time left to commit {what}.")


@dataclass(frozen=True)
class Processor:
    """One ps_type, in one of two forms.

    Rows: `extract` pulls raw provider records and `transform` turns them into rows; the executor then replaces the
    step's slice of its destination with them. Run: `run(ctx, warehouse)` does the whole step itself (SQL inside the
    warehouse, or Arrow batches: data too big for Python rows), loads atomically, and returns the rows written.
    """

    extract: Callable[[StepContext], Iterator[dict]] | None = None
    transform: Callable[[Iterable[dict], StepContext], list[dict]] | None = None
    run: Callable[[StepContext, Any], int] | None = None

    def __post_init__(self):
        rows_form = (self.extract is not None, self.transform is not None)
        if rows_form != ((True, True) if self.run is None else (False, False)):
            raise ValueError("a Processor has either extract and transform, or run")
