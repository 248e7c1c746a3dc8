"""A small local Cloud Tasks over gRPC, for the official client: queues, named tasks (a name is refused while the
task exists and for a while after it finished, like Cloud Tasks), HTTP dispatch with the queue's retries."""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from devstack.standins.tasks_dispatch import Dispatcher, LocalQueue, default_queue, send_http

SERVICE = "google.cloud.tasks.v2.CloudTasks"
# Cloud Tasks keeps the name of a deleted or finished task for about an hour and refuses to reuse it.
TOMBSTONE_SECONDS = 3600.0
QUEUE_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]{1,100}")
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,500}")
# HTTP statuses of failed attempts as gRPC codes (RESOURCE_EXHAUSTED, UNAVAILABLE, NOT_FOUND, ...).
_GRPC_CODES = {429: 8, 503: 14, 502: 14, 504: 4, 404: 5, 401: 16, 403: 7, 400: 3, 500: 13}


class TaskStore:
    """Queues, tasks and tombstones in memory, behind one lock (the dispatcher shares it)."""

    def __init__(
        self,
        tombstone_seconds: float = TOMBSTONE_SECONDS,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        from google.cloud import tasks_v2

        # Every time the server reads (schedule, dispatch and response times, backoff, tombstones) comes from
        # `clock` (epoch seconds), so a test can move time itself instead of sleeping through it.
        self.clock = clock
        self.lock = threading.RLock()
        self.queues: dict[str, LocalQueue] = {}
        self.tasks: dict[str, object] = {}
        self.tombstones: dict[str, float] = {}
        self.tombstone_seconds = tombstone_seconds
        self.attempt_type = tasks_v2.Attempt
        self.log = log or (lambda message: None)
        self.dispatcher = None

    def now(self) -> datetime:
        """The clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def queue_of(self, task_name: str) -> LocalQueue:
        return self.queues[task_name.rsplit("/tasks/", 1)[0]]

    def name_taken(self, name: str) -> bool:
        expiry = self.tombstones.get(name)
        if expiry is not None and expiry < self.clock():
            del self.tombstones[name]
            expiry = None
        return name in self.tasks or expiry is not None

    def remove(self, name: str) -> None:
        self.tasks.pop(name, None)
        self.tombstones[name] = self.clock() + self.tombstone_seconds

    def _record_response(self, task, status: int | None) -> None:
        """The attempt's answer as Cloud Tasks shows it: a google.rpc.Status named after the HTTP status."""
        from google.rpc import status_pb2

        code = 0 if status and 200 <= status < 300 else _GRPC_CODES.get(status, 2)  # 2: UNKNOWN
        answer = status_pb2.Status(code=code, message=f"HTTP {status}" if status else "no response")
        attempts = [task.last_attempt] + ([task.first_attempt] if task.dispatch_count == 1 else [])
        for attempt in attempts:
            attempt.response_time = self.now()
            attempt.response_status = answer

    def settle(self, name: str, status: int | None, dispatcher) -> None:
        """After an attempt: a 2xx finishes the task; anything else retries it with backoff, or drops it."""
        from devstack.standins.tasks_dispatch import next_attempt_time

        task = self.tasks.get(name)
        if task is None:
            return
        task.response_count += status is not None
        self._record_response(task, status)
        if status is not None and 200 <= status < 300:
            self.log(f"task {name} done (HTTP {status}, attempt {task.dispatch_count})")
            self.remove(name)
            return
        queue = self.queue_of(name).queue
        when = next_attempt_time(queue.retry_config, task, self.now())
        if when is None:
            self.log(f"task {name} dropped after {task.dispatch_count} attempts (last HTTP {status})")
            self.remove(name)
            return
        self.log(f"task {name} attempt {task.dispatch_count} got HTTP {status}; retry at {when.isoformat()}")
        task.schedule_time = when
        dispatcher.schedule(name, when)


class CloudTasksServicer:
    """The RPCs the project's code and tests use: Create/Get queue, Create/Get/List/Delete/Run task."""

    def __init__(self, store: TaskStore):
        self.store = store

    @staticmethod
    def _abort(context, code: str, message: str):
        import grpc

        context.abort(getattr(grpc.StatusCode, code), message)

    def _queue(self, name: str, context) -> LocalQueue:
        queue = self.store.queues.get(name)
        if queue is None:
            self._abort(context, "NOT_FOUND", f"Queue {name} does not exist.")
        return queue

    def _task(self, name: str, context):
        task = self.store.tasks.get(name)
        if task is None:
            self._abort(context, "NOT_FOUND", f"Task {name} does not exist.")
        return task

    @staticmethod
    def _view(task, view):
        """BASIC (the default) leaves out the body and headers, which may be large or secret; FULL has them."""
        from google.cloud import tasks_v2

        shown = tasks_v2.Task(task)
        shown.view = view or tasks_v2.Task.View.BASIC
        if shown.view != tasks_v2.Task.View.FULL:
            shown.http_request = tasks_v2.HttpRequest(
                url=task.http_request.url, http_method=task.http_request.http_method
            )
        return shown

    def create_queue(self, request, context):
        name = request.queue.name
        if not QUEUE_NAME.fullmatch(name) or not name.startswith(f"{request.parent}/queues/"):
            self._abort(context, "INVALID_ARGUMENT", f"Invalid queue name {name!r}.")
        with self.store.lock:
            if name in self.store.queues:
                self._abort(context, "ALREADY_EXISTS", f"Queue {name} already exists.")
            queue = default_queue(name)
            # Fields the caller set replace the defaults, message by message (as Cloud Tasks does).
            if request.queue.rate_limits:
                queue.rate_limits = request.queue.rate_limits
            if request.queue.retry_config:
                queue.retry_config = request.queue.retry_config
            self.store.queues[name] = LocalQueue(queue)
            return queue

    def get_queue(self, request, context):
        with self.store.lock:
            return self._queue(request.name, context).queue

    def create_task(self, request, context):
        from google.cloud import tasks_v2

        with self.store.lock:
            self._queue(request.parent, context)
            task = tasks_v2.Task(request.task)
            if not task.http_request.url:
                self._abort(context, "INVALID_ARGUMENT", "Only tasks with an http_request are supported.")
            task.name = task.name or f"{request.parent}/tasks/{secrets.randbelow(10**19)}"
            parent, _, task_id = task.name.rpartition("/tasks/")
            if parent != request.parent or not TASK_ID.fullmatch(task_id):
                self._abort(context, "INVALID_ARGUMENT", f"Invalid task name {task.name!r}.")
            if self.store.name_taken(task.name):
                # Cloud Tasks' answer: a live task, or one deleted or finished within the last hour.
                self._abort(context, "ALREADY_EXISTS", "Requested entity already exists")
            now = self.store.now()
            task.create_time = now
            if not task.schedule_time or task.schedule_time < now:
                task.schedule_time = now
            task.dispatch_count = task.response_count = 0
            self.store.tasks[task.name] = task
            self.store.dispatcher.schedule(task.name, task.schedule_time)
            return self._view(task, request.response_view)

    def get_task(self, request, context):
        with self.store.lock:
            return self._view(self._task(request.name, context), request.response_view)

    def list_tasks(self, request, context):
        from google.cloud import tasks_v2

        with self.store.lock:
            self._queue(request.parent, context)
            prefix = f"{request.parent}/tasks/"
            shown = [
                self._view(t, request.response_view)
                for n, t in self.store.tasks.items()
                if n.startswith(prefix)
            ]
            return tasks_v2.ListTasksResponse(tasks=shown)

    def delete_task(self, request, context):
        from google.protobuf import empty_pb2

        with self.store.lock:
            self._task(request.name, context)
            self.store.remove(request.name)
            return empty_pb2.Empty()

    def run_task(self, request, context):
        """Dispatch now, whatever its schedule time (as Cloud Tasks' RunTask)."""
        with self.store.lock:
            task = self._task(request.name, context)
            task.schedule_time = self.store.now()
            self.store.dispatcher.schedule(task.name, task.schedule_time)
            return self._view(task, request.response_view)


def _handler(servicer: CloudTasksServicer):
    import grpc
    from google.cloud import tasks_v2
    from google.protobuf import empty_pb2

    def method(function, request_type, response_type):
        serialize = (
            response_type.SerializeToString if response_type is empty_pb2.Empty else response_type.serialize
        )
        return grpc.unary_unary_rpc_method_handler(
            function, request_deserializer=request_type.deserialize, response_serializer=serialize
        )

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "CreateQueue": method(servicer.create_queue, tasks_v2.CreateQueueRequest, tasks_v2.Queue),
            "GetQueue": method(servicer.get_queue, tasks_v2.GetQueueRequest, tasks_v2.Queue),
            "CreateTask": method(servicer.create_task, tasks_v2.CreateTaskRequest, tasks_v2.Task),
            "GetTask": method(servicer.get_task, tasks_v2.GetTaskRequest, tasks_v2.Task),
            "ListTasks": method(servicer.list_tasks, tasks_v2.ListTasksRequest, tasks_v2.ListTasksResponse),
            "DeleteTask": method(servicer.delete_task, tasks_v2.DeleteTaskRequest, empty_pb2.Empty),
            "RunTask": method(servicer.run_task, tasks_v2.RunTaskRequest, tasks_v2.Task),
        },
    )


def start_tasks_server(
    host: str,
    port: int,
    *,
    send=send_http,
    tombstone_seconds: float = TOMBSTONE_SECONDS,
    log: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.time,
):
    """Serve Cloud Tasks on host:port (0: a free port) on background threads; returns (server, bound port, stop).
    `clock` (epoch seconds) is the server's only source of time (tests pass one they move by hand)."""
    from concurrent import futures

    import grpc

    store = TaskStore(tombstone_seconds, log, clock)
    store.dispatcher = Dispatcher(store, send)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="local-tasks"))
    server.add_generic_rpc_handlers((_handler(CloudTasksServicer(store)),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"the local Cloud Tasks server cannot listen on {host}:{port}")
    server.start()

    def stop() -> None:
        store.dispatcher.stop()
        server.stop(grace=1).wait()

    return server, bound, stop


# The local queue of scheduled runs: quick retries so a refused task is seen running again within seconds, and
# a bounded dispatch rate and concurrency, as the Terraform queue has (there in minutes and tens).
LOCAL_RETRY = {
    "max_attempts": 100,
    "min_backoff": timedelta(seconds=0.5),
    "max_backoff": timedelta(seconds=5),
    "max_doublings": 3,
}
LOCAL_RATE_LIMITS = {"max_dispatches_per_second": 20, "max_concurrent_dispatches": 4}


def create_local_queue(settings, queue_name: str):
    """Create the queue through the official client, as Terraform does in GCP (idempotent)."""
    from google.api_core import exceptions
    from google.cloud import tasks_v2

    from shared.platform.clients import make_tasks_client

    client = make_tasks_client(settings)
    parent = queue_name.rsplit("/queues/", 1)[0]
    queue = tasks_v2.Queue(
        name=queue_name,
        retry_config=tasks_v2.RetryConfig(**LOCAL_RETRY),
        rate_limits=tasks_v2.RateLimits(**LOCAL_RATE_LIMITS),
    )
    try:
        return client.create_queue(parent=parent, queue=queue)
    except exceptions.AlreadyExists:
        return client.get_queue(name=queue_name)
