"""Cloud Tasks adapter: one *named* task per (org, pipeline, day), so enqueueing it twice is refused, not doubled."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

from shared.platform.errors import TransientError

ENQUEUE_TIMEOUT_SECONDS = 20
# How long Cloud Tasks waits for process-queue to answer (15 s .. 30 min): a reservation and a publish.
DISPATCH_DEADLINE_SECONDS = 120
PROCESS_QUEUE_PATH = "/api/v1/scheduler/process-queue"


@dataclass(frozen=True)
class ScheduledRun:
    """What one task asks process-queue to do: run `pipeline_id` for `org_slug` on `day`."""

    org_slug: str
    pipeline_id: str
    day: date

    def to_payload(self) -> dict:
        return {"org_slug": self.org_slug, "pipeline_id": self.pipeline_id, "date": self.day.isoformat()}

    @property
    def task_id(self) -> str:
        """The task's name in its queue: deterministic, so Cloud Tasks itself refuses a second enqueue.

        Cloud Tasks advises against sequential names (they concentrate load on its index), so a hash of the
        key leads; the readable rest helps an operator looking at the queue.
        """
        digest = hashlib.sha256(f"{self.org_slug}|{self.pipeline_id}|{self.day}".encode()).hexdigest()[:16]
        return f"{digest}-{self.org_slug}-{self.pipeline_id.replace('/', '-')}-{self.day:%Y%m%d}"


def enqueue(
    client,
    queue: str,
    run: ScheduledRun,
    target_url: str,
    headers: dict[str, str],
    oidc_service_account: str | None = None,
    audience: str | None = None,
) -> bool:
    """Create the run's named task calling process-queue; False if a task of that name exists (or existed
    recently: Cloud Tasks keeps a deleted or finished task's name for about an hour). With
    `oidc_service_account`, Cloud Tasks adds a token of that identity for `audience` (the caller needs actAs)."""
    from google.api_core import exceptions
    from google.cloud import tasks_v2
    from google.protobuf import duration_pb2

    task = tasks_v2.Task(
        name=f"{queue}/tasks/{run.task_id}",
        http_request=tasks_v2.HttpRequest(
            http_method=tasks_v2.HttpMethod.POST,
            url=f"{target_url}{PROCESS_QUEUE_PATH}",
            headers={"Content-Type": "application/json", **headers},
            body=json.dumps(run.to_payload(), separators=(",", ":")).encode(),
            oidc_token=tasks_v2.OidcToken(service_account_email=oidc_service_account, audience=audience)
            if oidc_service_account
            else None,
        ),
        dispatch_deadline=duration_pb2.Duration(seconds=DISPATCH_DEADLINE_SECONDS),
    )
    try:
        client.create_task(parent=queue, task=task, timeout=ENQUEUE_TIMEOUT_SECONDS)
    except exceptions.AlreadyExists:
        return False
    except (
        exceptions.ServiceUnavailable,
        exceptions.DeadlineExceeded,
        exceptions.InternalServerError,
        exceptions.TooManyRequests,
    ) as exc:
        # The trigger answers 503 and its caller (Cloud Scheduler) retries: names make the retry harmless.
        raise TransientError(
            "BACKEND_UNAVAILABLE", f"Cloud Tasks is unavailable ({type(exc).__name__})."
        ) from exc
    return True
