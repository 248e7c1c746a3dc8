"""Group commit: concurrent callers' items are run together, one batch at a time, by whichever caller leads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

MAX_BATCH = 32


class _Entry:
    """One caller's item, and what its batch gave back."""

    __slots__ = ("done", "error", "item", "key", "result")

    def __init__(self, key: Hashable, item: Any):
        self.key, self.item = key, item
        self.done, self.result, self.error = False, None, None


class GroupCommit:
    """Runs callers' items in batches through `run_batch(items) -> results` (one result per item, in order).

    A caller that finds no batch in flight leads: it takes up to `max_batch` waiting items, at most one per key
    and each key's oldest first (a key's later items wait for a later batch, so they are decided one after the
    other, as if alone), runs the batch, hands every caller its result, and steps down. The others wait and,
    when the lead is free and their item is still waiting, one of them leads the next batch. There is no
    background thread: Cloud Functions gives CPU only while a request is being served, so callers do the work.
    If `run_batch` raises, every caller of that batch gets the exception.
    """

    def __init__(self, run_batch: Callable[[list], list], max_batch: int = MAX_BATCH):
        self._run_batch, self._max_batch = run_batch, max_batch
        self._changed = threading.Condition()
        self._waiting: list[_Entry] = []  # arrival order
        self._leading = False
        self.batches = 0  # batches run so far: how tests and benchmarks see that items were grouped

    @property
    def idle(self) -> bool:
        """Nothing waiting and no batch in flight: the group commit can be dropped and made again later."""
        with self._changed:
            return not self._waiting and not self._leading

    @property
    def queued(self) -> int:
        """How many items wait for a batch (not counting the batch in flight)."""
        with self._changed:
            return len(self._waiting)

    def submit(self, key: Hashable, item: Any) -> Any:
        """Have `item` run in a batch (after every older item of `key`); return its result, or raise its batch's
        exception."""
        entry = _Entry(key, item)
        with self._changed:
            self._waiting.append(entry)
        try:
            self._wait_or_lead(entry)
        except BaseException:  # e.g. interrupted: never run an item whose caller is gone
            with self._changed:
                if entry in self._waiting:
                    self._waiting.remove(entry)
            raise
        if entry.error is not None:
            raise entry.error
        return entry.result

    def _wait_or_lead(self, entry: _Entry) -> None:
        while True:
            with self._changed:
                while not entry.done and self._leading:
                    self._changed.wait()
                if entry.done:
                    return
                self._leading = True
                batch = self._take_batch()
            self._lead(
                batch
            )  # our entry may not be in it (an older one of its key is): then wait or lead again

    def _take_batch(self) -> list[_Entry]:
        """The oldest waiting item of each key, oldest first, at most `max_batch`; removed from the queue."""
        batch, keys = [], set()
        for entry in self._waiting:
            if len(batch) == self._max_batch:
                break
            if entry.key not in keys:
                keys.add(entry.key)
                batch.append(entry)
        taken = {id(entry) for entry in batch}
        self._waiting = [entry for entry in self._waiting if id(entry) not in taken]
        return batch

    def _lead(self, batch: list[_Entry]) -> None:
        """Run the batch outside the lock (others keep queueing), then hand out the outcome and step down."""
        try:
            results = self._run_batch([entry.item for entry in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(batch)} items")
        except BaseException as exc:
            self._finish(batch, [None] * len(batch), exc)
            if not isinstance(exc, Exception):  # an interrupt also stops the leader itself
                raise
            return
        self._finish(batch, results, None)

    def _finish(self, batch: list[_Entry], results: list, error: BaseException | None) -> None:
        with self._changed:
            for entry, result in zip(batch, results, strict=True):
                entry.done, entry.result, entry.error = True, result, error
            self.batches += 1
            self._leading = False
            self._changed.notify_all()
