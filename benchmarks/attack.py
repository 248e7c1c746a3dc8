"""A flood of run requests with keys that are not valid, sent beside a benchmark's legitimate traffic.

`random` keys are random strings (what a scanner sends: refused by the key checksum, no lookup); `legacy` keys
have the exact shape of keys issued before the checksum (the worst case: each is looked up once, bounded)."""

from __future__ import annotations

import secrets
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

SHAPES = ("random", "legacy")


def add_attack_arguments(parser, attack_help: str) -> None:
    """The flood's options, the same in every benchmark that offers one: --attack N, its concurrency, its keys."""
    parser.add_argument("--attack", type=int, default=0, help=attack_help)
    parser.add_argument("--attack-concurrency", type=int, default=16, help="invalid-key requests in flight")
    parser.add_argument(
        "--attack-keys", choices=SHAPES, default="random", help="what the invalid keys look like"
    )


def invalid_key(shape: str) -> str:
    """A key no org has: a random string, or one shaped like a pre-checksum key."""
    return "dps_" + secrets.token_urlsafe(32) if shape == "legacy" else secrets.token_urlsafe(32)


class KeyFlood:
    """Sends `count` run requests with invalid keys, `concurrency` in flight, over `seconds` (0: as fast as they
    are answered), in the background from `start()` to `join()`."""

    def __init__(
        self, url: str, count: int, concurrency: int = 16, seconds: float = 0.0, shape: str = "random"
    ):
        self.url, self.count, self.concurrency, self.seconds, self.shape = (
            url,
            count,
            concurrency,
            seconds,
            shape,
        )
        self.statuses: Counter = Counter()
        self.latencies: list[float] = []
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> KeyFlood:
        """Begin sending in the background."""
        self._thread = threading.Thread(target=self._run, name="key-flood", daemon=True)
        self._thread.start()
        return self

    def join(self) -> None:
        """Wait until every request of the flood was answered."""
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        began, local = time.monotonic(), threading.local()

        def send(i: int) -> None:
            time.sleep(max(0.0, began + i * self.seconds / self.count - time.monotonic()))
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=120)
            started = time.perf_counter()
            try:
                answer = local.client.post(
                    self.url, json={"date": "2025-01-01"}, headers={"X-API-Key": invalid_key(self.shape)}
                )
                status = answer.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            with self._lock:
                self.statuses[status] += 1
                self.latencies.append(time.perf_counter() - started)

        with ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(send, range(self.count)))

    def summary(self) -> str:
        """Statuses and median answer time of the flood."""
        median = statistics.median(self.latencies) if self.latencies else float("nan")
        return f"{self.count} {self.shape} keys: {dict(self.statuses)}, median answer {median * 1000:.0f} ms"
