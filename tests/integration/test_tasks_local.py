"""The local Cloud Tasks server through the official client: named tasks, duplicate refusal, retries, limits.

Tests about time (backoff, how long a finished task's name is kept) run the server on a `ManualClock`: time moves
only when the test moves it, so they assert the server's own schedule exactly and never depend on how fast a busy
machine dispatches."""

import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

from devstack.standins.tasks import start_tasks_server
from tests.kit.runs import wait_until

PARENT = "projects/p/locations/local"
# How long a negative check ("nothing was dispatched early") looks: it can only miss a bug, never fail falsely.
QUIET_SECONDS = 0.3


class ManualClock:
    """Epoch seconds that stand still until `advance`: the server's clock in the tests about time. Kept in whole
    microseconds (as the server's datetimes are), so schedule times compare exactly."""

    def __init__(self, start: datetime = datetime(2027, 1, 15, tzinfo=UTC)):
        self._micros = int(start.timestamp()) * 1_000_000
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._micros / 1_000_000

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._micros += round(seconds * 1_000_000)


class Target:
    """An HTTP endpoint answering each request with the next status of `statuses` (then the last one). Requests
    are held while `gate` is closed (open by default); each call is recorded with `clock`'s time."""

    def __init__(self, statuses=(200,), clock=time.monotonic, gate_open=True):
        self.statuses, self.calls, self.in_flight, self.peak = list(statuses), [], 0, 0
        self.lock, self.gate = threading.Lock(), threading.Event()
        if gate_open:
            self.gate.set()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with target.lock:
                    target.calls.append((clock(), body, dict(self.headers)))
                    status = target.statuses[min(len(target.calls), len(target.statuses)) - 1]
                    target.in_flight += 1
                    target.peak = max(target.peak, target.in_flight)
                target.gate.wait(timeout=60)
                with target.lock:
                    target.in_flight -= 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/process"


def _serve(clock=time.time):
    """(client, stop) against a fresh local server on `clock` whose tombstones last 0.5 s."""
    _, port, stop = start_tasks_server("127.0.0.1", 0, tombstone_seconds=0.5, clock=clock)
    client = tasks_v2.CloudTasksClient(
        transport=CloudTasksGrpcTransport(channel=grpc.insecure_channel(f"127.0.0.1:{port}"))
    )
    return client, stop


@pytest.fixture
def tasks():
    """A client of a fresh local server on the real clock."""
    client, stop = _serve()
    yield client
    stop()


@pytest.fixture
def clocked():
    """(client, clock): a fresh local server whose time moves only when the test advances `clock`."""
    clock = ManualClock()
    client, stop = _serve(clock)
    yield client, clock
    stop()


def _queue(client, name="q", **retry):
    retry_config = tasks_v2.RetryConfig(
        max_attempts=retry.get("max_attempts", 10),
        min_backoff=timedelta(seconds=0.1),
        max_backoff=timedelta(seconds=0.4),
        max_doublings=2,
    )
    limits = tasks_v2.RateLimits(
        max_concurrent_dispatches=retry.get("concurrency", 100), max_dispatches_per_second=100
    )
    queue = tasks_v2.Queue(name=f"{PARENT}/queues/{name}", retry_config=retry_config, rate_limits=limits)
    return client.create_queue(parent=PARENT, queue=queue).name


def _task(queue, task_id, url, body=b"{}"):
    http = tasks_v2.HttpRequest(url=url, body=body, headers={"X-CA-Root-Key": "k"})
    return tasks_v2.Task(name=f"{queue}/tasks/{task_id}" if task_id else "", http_request=http)


def test_a_named_task_is_refused_while_it_lives_and_shortly_after_it_finished(clocked):
    tasks, clock = clocked
    target = Target(statuses=(503, 200))
    queue = _queue(tasks)
    created = tasks.create_task(parent=queue, task=_task(queue, "day-1", target.url, b'{"a": 1}'))
    assert created.name.endswith("/tasks/day-1") and not created.http_request.body  # BASIC view hides it
    with pytest.raises(exceptions.AlreadyExists):
        tasks.create_task(parent=queue, task=_task(queue, "day-1", target.url))
    wait_until(lambda: tasks.get_task(name=created.name).response_count == 1)
    clock.advance(0.1)  # the queue's min_backoff: the retry is due
    wait_until(lambda: not list(tasks.list_tasks(parent=queue)))
    assert len(target.calls) == 2
    assert target.calls[1][1] == b'{"a": 1}' and target.calls[1][2]["X-CA-Root-Key"] == "k"
    with pytest.raises(exceptions.AlreadyExists):  # finished, but its name is kept for a while
        tasks.create_task(parent=queue, task=_task(queue, "day-1", target.url))
    clock.advance(0.4)  # still inside the 0.5 s the name is kept
    with pytest.raises(exceptions.AlreadyExists):
        tasks.create_task(parent=queue, task=_task(queue, "day-1", target.url))
    clock.advance(0.2)
    assert tasks.create_task(parent=queue, task=_task(queue, "day-1", target.url)).name == created.name


def test_deleted_task_is_not_dispatched_and_its_name_is_kept(tasks):
    target = Target()
    queue = _queue(tasks)
    future = tasks_v2.Task(_task(queue, "later", target.url))
    future.schedule_time = datetime.now(UTC) + timedelta(seconds=60)
    tasks.create_task(parent=queue, task=future)
    full = tasks.get_task(request={"name": f"{queue}/tasks/later", "response_view": tasks_v2.Task.View.FULL})
    assert full.http_request.headers["X-CA-Root-Key"] == "k"
    tasks.delete_task(name=f"{queue}/tasks/later")
    with pytest.raises(exceptions.NotFound):
        tasks.get_task(name=f"{queue}/tasks/later")
    with pytest.raises(exceptions.AlreadyExists):
        tasks.create_task(parent=queue, task=_task(queue, "later", target.url))
    assert target.calls == []


def test_failed_attempts_are_retried_with_backoff_then_dropped(clocked):
    tasks, clock = clocked
    target = Target(statuses=(429,), clock=clock)
    queue = _queue(tasks, max_attempts=4)
    name = tasks.create_task(parent=queue, task=_task(queue, "refused", target.url)).name
    # min_backoff 0.1 s doubling (max_doublings 2), capped at max_backoff 0.4 s; the 4th failure drops the task.
    for attempt, backoff in enumerate((0.1, 0.2, 0.4), start=1):
        task = wait_until(lambda n=attempt: (t := tasks.get_task(name=name)).response_count == n and t)
        assert task.dispatch_count == attempt and task.last_attempt.response_status.message == "HTTP 429"
        # The retry is planned `backoff` after the failed attempt, on the server's own clock ...
        assert task.schedule_time.timestamp() == pytest.approx(clock() + backoff, abs=1e-6), attempt
        clock.advance(backoff - 0.001)
        time.sleep(QUIET_SECONDS)
        assert len(target.calls) == attempt  # ... and not sent a moment before it is due
        clock.advance(0.001)
        wait_until(lambda n=attempt: len(target.calls) == n + 1)
    wait_until(lambda: not list(tasks.list_tasks(parent=queue)))  # dropped after its 4th attempt
    gaps = [b[0] - a[0] for a, b in zip(target.calls, target.calls[1:], strict=False)]
    assert gaps == pytest.approx([0.1, 0.2, 0.4], abs=1e-6), gaps
    clock.advance(3600)
    time.sleep(QUIET_SECONDS)
    assert len(target.calls) == 4


def test_unnamed_tasks_get_a_name_and_the_queue_bounds_concurrency(tasks):
    target = Target(gate_open=False)  # every request is held until the test opens the gate
    queue = _queue(tasks, concurrency=2)
    names = {tasks.create_task(parent=queue, task=_task(queue, None, target.url)).name for _ in range(6)}
    assert len(names) == 6
    wait_until(lambda: target.in_flight == 2)
    time.sleep(QUIET_SECONDS)
    assert len(target.calls) == 2  # the other four wait for a free slot
    target.gate.set()
    wait_until(lambda: len(target.calls) == 6 and target.in_flight == 0)
    assert target.peak == 2


def test_unknown_queue_and_bad_names_are_refused(tasks):
    with pytest.raises(exceptions.NotFound):
        tasks.create_task(
            parent=f"{PARENT}/queues/none", task=_task(f"{PARENT}/queues/none", "x", "http://x/")
        )
    queue = _queue(tasks)
    with pytest.raises(exceptions.InvalidArgument):
        tasks.create_task(parent=queue, task=_task(queue, "bad.name", "http://x/"))
    with pytest.raises(exceptions.AlreadyExists):
        _queue(tasks)
