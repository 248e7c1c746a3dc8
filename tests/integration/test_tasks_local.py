"""The local Cloud Tasks server through the official client: named tasks, duplicate refusal, retries, limits."""

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

PARENT = "projects/p/locations/local"


class Target:
    """An HTTP endpoint answering each request with the next status of `statuses` (then the last one)."""

    def __init__(self, statuses=(200,), hold: float = 0.0):
        self.statuses, self.hold, self.calls, self.in_flight, self.peak = list(statuses), hold, [], 0, 0
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with target.lock:
                    target.calls.append((time.monotonic(), body, dict(self.headers)))
                    status = target.statuses[min(len(target.calls), len(target.statuses)) - 1]
                    target.in_flight += 1
                    target.peak = max(target.peak, target.in_flight)
                time.sleep(target.hold)
                with target.lock:
                    target.in_flight -= 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/process"


@pytest.fixture
def tasks():
    """(client, stop) against a fresh local server whose tombstones last 0.5 s."""
    _, port, stop = start_tasks_server("127.0.0.1", 0, tombstone_seconds=0.5)
    client = tasks_v2.CloudTasksClient(
        transport=CloudTasksGrpcTransport(channel=grpc.insecure_channel(f"127.0.0.1:{port}"))
    )
    yield client
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


def _wait(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_named_task_is_refused_while_it_lives_and_shortly_after_it_finished(tasks):
    target = Target(statuses=(503, 200))
    queue = _queue(tasks)
    created = tasks.create_task(parent=queue, task=_task(queue, "day-1", target.url, b'{"a": 1}'))
    assert created.name.endswith("/tasks/day-1") and not created.http_request.body  # BASIC view hides it
    with pytest.raises(exceptions.AlreadyExists):
        tasks.create_task(parent=queue, task=_task(queue, "day-1", target.url))
    _wait(lambda: len(target.calls) == 2)
    assert target.calls[1][1] == b'{"a": 1}' and target.calls[1][2]["X-CA-Root-Key"] == "k"
    _wait(lambda: not list(tasks.list_tasks(parent=queue)))
    with pytest.raises(exceptions.AlreadyExists):  # finished, but its name is kept for a while
        tasks.create_task(parent=queue, task=_task(queue, "day-1", target.url))
    time.sleep(0.6)
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


def test_failed_attempts_are_retried_with_backoff_then_dropped(tasks):
    target = Target(statuses=(429,))
    queue = _queue(tasks, max_attempts=4)
    tasks.create_task(parent=queue, task=_task(queue, "refused", target.url))
    _wait(lambda: len(target.calls) == 4)
    gaps = [round(b[0] - a[0], 1) for a, b in zip(target.calls, target.calls[1:], strict=False)]
    assert gaps == [0.1, 0.2, 0.4], gaps  # min_backoff doubling, capped at max_backoff
    _wait(lambda: not list(tasks.list_tasks(parent=queue)))
    time.sleep(0.3)
    assert len(target.calls) == 4


def test_unnamed_tasks_get_a_name_and_the_queue_bounds_concurrency(tasks):
    target = Target(hold=0.2)
    queue = _queue(tasks, concurrency=2)
    names = {tasks.create_task(parent=queue, task=_task(queue, None, target.url)).name for _ in range(6)}
    assert len(names) == 6
    _wait(lambda: len(target.calls) == 6)
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
