"""Publishing run requests to Pub/Sub: one topic per provider (emulator filters are not applied, so route by topic)."""

from __future__ import annotations

import json

from shared.platform.errors import ApiError
from shared.platform.settings import Settings
from shared.runs.model import RunRequest

PUBLISH_TIMEOUT_SECONDS = 30


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
