"""Dispatch of the local Cloud Tasks server: due tasks' HTTP requests, bounded by each queue's rate and
concurrency, retried with the queue's backoff (min_backoff doubling max_doublings times, then linear)."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

DEFAULT_DEADLINE_SECONDS = 600.0  # Cloud Tasks' default dispatch deadline for HTTP targets
RETRY_TICK_SECONDS = 0.02  # how soon a task held back by its queue's concurrency limit is looked at again


def backoff_seconds(retry_config, failed_attempts: int) -> float:
    """Seconds before the next attempt after `failed_attempts` failures, as Cloud Tasks computes it:
    min, 2*min, 4*min ... (max_doublings times), then growing linearly by the last interval, capped at max."""
    lowest = retry_config.min_backoff.total_seconds()
    highest = retry_config.max_backoff.total_seconds()
    doublings = retry_config.max_doublings
    if failed_attempts <= doublings + 1:
        delay = lowest * 2 ** (failed_attempts - 1)
    else:
        delay = lowest * 2**doublings * (failed_attempts - doublings)
    return min(delay, highest)


def retries_exhausted(retry_config, task, now: datetime) -> bool:
    """True when the queue's max_attempts (-1: unlimited) or max_retry_duration (0: unlimited) is used up."""
    if retry_config.max_attempts != -1 and task.dispatch_count >= retry_config.max_attempts:
        return True
    limit = retry_config.max_retry_duration.total_seconds()
    first = task.first_attempt.dispatch_time if task.first_attempt else None
    return bool(limit and first and (now - first).total_seconds() > limit)


class Dispatcher:
    """One thread ordering due tasks by schedule time, and a pool sending their requests. Time is the store's
    clock: a task is started once the clock reaches its schedule time, never before."""

    def __init__(self, store, send: Callable[[object, float], int | None], workers: int = 16):
        self.store, self.send = store, send  # send(http_request, timeout) -> HTTP status or None (no answer)
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._wake = threading.Condition(store.lock)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="local-tasks-send")
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="local-tasks-dispatch", daemon=True)
        self._thread.start()

    def schedule(self, name: str, when: datetime) -> None:
        """Dispatch task `name` at `when` (callers hold the store's lock)."""
        heapq.heappush(self._heap, (when.timestamp(), next(self._seq), name))
        self._wake.notify()

    def stop(self) -> None:
        """Stop dispatching; requests in flight finish."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        with self._wake:
            while not self._stopped:
                if not self._heap:
                    self._wake.wait()
                    continue
                due, _, name = self._heap[0]
                now = self.store.clock()
                if due > now:
                    # Woken early by a new task, or on time: either way the clock is read again.
                    self._wake.wait(timeout=due - now)
                    continue
                heapq.heappop(self._heap)
                self._start(name, due)

    def _start(self, name: str, due: float) -> None:
        task = self.store.tasks.get(name)
        if task is None or abs(task.schedule_time.timestamp() - due) > 1e-3:
            return  # deleted, or rescheduled (RunTask, a retry): a newer heap entry stands for it
        queue = self.store.queue_of(name)
        wait = queue.admit(self.store.clock())
        if wait:  # over the queue's concurrency or dispatch rate: look again later, order kept
            heapq.heappush(self._heap, (due, next(self._seq), name))
            self._wake.wait(timeout=wait)
            return
        now = self.store.now()
        attempt = self.store.attempt_type(schedule_time=task.schedule_time, dispatch_time=now)
        if not task.first_attempt:
            task.first_attempt = attempt
        task.last_attempt = attempt
        task.dispatch_count += 1
        self._pool.submit(self._send, name, task.http_request, task.dispatch_deadline, queue)

    def _send(self, name: str, http_request, deadline, queue) -> None:
        try:
            status = self.send(
                http_request, deadline.total_seconds() if deadline else DEFAULT_DEADLINE_SECONDS
            )
        except Exception:  # noqa: BLE001 - a failed send is a failed attempt, never the end of dispatching
            status = None
        with self._wake:
            queue.release()
            self.store.settle(name, status, self)
            self._wake.notify()


def next_attempt_time(retry_config, task, now: datetime) -> datetime | None:
    """When to try a task again after a failed attempt, or None when its retries are used up."""
    if retries_exhausted(retry_config, task, now):
        return None
    return now + timedelta(seconds=backoff_seconds(retry_config, task.dispatch_count))


class LocalQueue:
    """One queue: its settings (a tasks_v2.Queue) and how many of its requests are in flight."""

    def __init__(self, queue):
        self.queue, self.in_flight, self.next_slot = queue, 0, 0.0

    def admit(self, now: float) -> float:
        """0 if a request may start now (and count it), else seconds to wait: concurrency, then rate."""
        limits = self.queue.rate_limits
        if limits.max_concurrent_dispatches and self.in_flight >= limits.max_concurrent_dispatches:
            return 0.05
        if self.next_slot > now:
            return self.next_slot - now
        rate = limits.max_dispatches_per_second or 0
        self.next_slot = now + (1.0 / rate if rate else 0.0)
        self.in_flight += 1
        return 0.0

    def release(self) -> None:
        self.in_flight -= 1


def default_queue(name: str):
    """A queue with Cloud Tasks' defaults (and `name`)."""
    from google.cloud import tasks_v2

    return tasks_v2.Queue(
        name=name,
        rate_limits=tasks_v2.RateLimits(max_dispatches_per_second=500, max_concurrent_dispatches=1000),
        retry_config=tasks_v2.RetryConfig(
            max_attempts=100,
            min_backoff=timedelta(seconds=0.1),
            max_backoff=timedelta(seconds=3600),
            max_doublings=16,
        ),
        state=tasks_v2.Queue.State.RUNNING,
    )


def send_http(http_request, timeout: float) -> int | None:
    """Send a task's HTTP request; its status, or None if nothing answered."""
    import httpx
    from google.cloud import tasks_v2

    method = tasks_v2.HttpMethod(http_request.http_method or tasks_v2.HttpMethod.POST).name
    try:
        response = httpx.request(
            method,
            http_request.url,
            headers=dict(http_request.headers),
            content=bytes(http_request.body),
            timeout=timeout,
        )
    except httpx.HTTPError:
        return None
    return response.status_code
