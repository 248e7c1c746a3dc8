"""What a provider plugs into the executor: processors (extract + transform) named by ps_type."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.settings import Settings


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

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()


@dataclass(frozen=True)
class Processor:
    """One ps_type: `extract` pulls raw provider records, `transform` turns them into rows of the destination."""

    extract: Callable[[StepContext], Iterator[dict]]
    transform: Callable[[Iterable[dict], StepContext], list[dict]]
