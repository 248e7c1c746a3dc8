"""Queueing runs: publishing run requests to Pub/Sub (one topic per provider: emulator filters are not applied, so
route by topic), and the one reserve -> publish -> settle path the run API, the scheduler and replay share."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from shared.platform.errors import ApiError
from shared.platform.settings import Settings
from shared.runs.admission import ACCEPTED, REOPENED, REQUEUED, Reservation
from shared.runs.model import PENDING, RunRequest
from shared.runs.run_log import RunLog
from shared.warehouse.adapter import Warehouse

PUBLISH_TIMEOUT_SECONDS = 30
# Reservation decisions that leave the run PENDING with a concurrency slot, to be published.
RUNNABLE = (ACCEPTED, REOPENED, REQUEUED)


@dataclass(frozen=True)
class Unqueued:
    """How a run made runnable but not published is settled: FAILED with `code` and `message`, its slot given
    back, and with `refund` its daily and monthly counts too."""

    code: str
    message: str
    refund: bool


# A new run (run API, scheduler) never started: it is not counted against the plan.
NEW_RUN = Unqueued("PUBLISH_FAILED", "The run could not be queued.", refund=True)
# A replayed run was counted once, when it was accepted, and stays counted; it can be replayed again.
REPLAYED_RUN = Unqueued("REPLAY_PUBLISH_FAILED", "The replay could not be queued.", refund=False)


class PublishFailed(ApiError):
    """The run was made runnable but could not be queued; it is settled FAILED. The 503 of `publish_run`."""


def publish_run(publisher, settings: Settings, request: RunRequest) -> str:
    """Publish the run request to its provider's topic; returns the message id. 503 if Pub/Sub refuses."""
    topic = publisher.topic_path(settings.project, settings.topic_for(request.provider))
    data = json.dumps(request.to_message(), separators=(",", ":")).encode()
    try:
        future = publisher.publish(
            topic, data, org_slug=request.org_slug, pipeline_logging_id=request.pipeline_logging_id
        )
        return future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
    except Exception as exc:  # any publish failure means the run was not queued
        raise ApiError("BACKEND_UNAVAILABLE", "The run could not be queued; try again.") from exc


def reserve_and_publish(
    warehouse: Warehouse,
    settings: Settings,
    publisher,
    request: RunRequest,
    *,
    reserve: Callable[[], Reservation],
    if_unqueued: Unqueued,
) -> Reservation:
    """Make the run runnable with `reserve()` and publish it; returns the reservation.

    `reserve` is `reserve_run` for a new run or `reopen_run` for a replayed one. The run is published only when
    the decision is ACCEPTED, REOPENED or REQUEUED; any other decision (a duplicate, a refusal, a no-op) is
    returned untouched for the caller to answer. If the publish fails, the run is settled FAILED as
    `if_unqueued` says (slot released in the same transaction, counts refunded or not) and PublishFailed raised.
    """
    reservation = reserve()
    if reservation.decision in RUNNABLE:
        try:
            publish_run(publisher, settings, request)
        except ApiError as error:
            RunLog(warehouse, settings).fail(
                request.org_slug,
                request.pipeline_logging_id,
                PENDING,
                if_unqueued.code,
                if_unqueued.message,
                refund=if_unqueued.refund,
            )
            raise PublishFailed(error.code, error.message, headers=error.headers) from error
    return reservation
