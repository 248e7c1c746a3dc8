"""The local stacks of a test session: one stack whose processes (Pub/Sub, KMS, Cloud Tasks, the sandbox and the
four functions) every module shares, with an empty warehouse (a fresh BigQuery emulator) for each module; and a
fresh stack of its own for a module marked `own_stack` (see tests/conftest.py for which and why).

A module's stack is made "active" for the module's duration: its settings in os.environ, and every process-level
cache of settings and clients dropped on the way in and out, so that the next module (on another stack, or on
none) never talks to a stack through a stale client.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.stack import LocalStack


def forget_process_clients() -> None:
    """Drop what this process cached about a stack (settings, clients, default deps)."""
    from shared.api import app
    from shared.platform import clients, settings
    from shared.worker import entry

    for cached in (
        settings.get_settings,
        clients.subscriber_client,
        clients.bigquery_client,
        clients.kms_client,
        clients.publisher_client,
        clients.tasks_client,
        clients.warehouse,
        entry.default_deps,
        app.default_deps,
    ):
        cached.cache_clear()


class Stacks:
    """Starts stacks under `root` on free ports, all sharing one DuckDB extension directory (installed once per
    session instead of ~130 MB per stack); stops them all on `close()`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.duckdb_home = self.root / "duckdb-home"
        self._shared: LocalStack | None = None
        self._started: list[LocalStack] = []
        self._count = itertools.count()

    def _start(self, name: str) -> LocalStack:
        data_dir = self.root / f"{name}-{next(self._count)}"
        local = LocalStack(data_dir, ports=LocalStack.free_ports(), duckdb_home=self.duckdb_home)
        self._started.append(local)
        return local.start()

    def shared(self) -> LocalStack:
        """The session's shared stack with an empty warehouse: started on first use; each later call gives it a
        fresh BigQuery emulator (same ports, bootstrapped) and an empty Firestore, so every module starts as on a
        stack of its own."""
        if self._shared is None:
            self._shared = self._start("shared")
        else:
            self._shared.reset_bigquery()
            self._shared.reset_control_state()
        return self._shared

    @contextmanager
    def own(self, name: str) -> Iterator[LocalStack]:
        """A fresh stack (its data dir named after `name`), stopped when the block ends."""
        local = self._start(name)
        try:
            yield local
        finally:
            local.stop()
            self._started.remove(local)

    @staticmethod
    @contextmanager
    def active(local: LocalStack) -> Iterator[LocalStack]:
        """The test process talks to `local` (as the served functions do, through the same settings) until the
        block ends; then the environment is as before."""
        saved = dict(os.environ)
        os.environ.update(local.env())
        forget_process_clients()
        try:
            yield local
        finally:
            os.environ.clear()
            os.environ.update(saved)
            forget_process_clients()

    def close(self) -> None:
        """Stop every stack still running."""
        while self._started:
            self._started.pop().stop()
        self._shared = None
