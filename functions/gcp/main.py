"""CloudEvent function `gcp`: consumes GCP billing run requests from Pub/Sub. Thin: all logic lives in shared/."""

import functools

import functions_framework

from shared.worker import WorkerDeps, handle_run_event

PROVIDER = "gcp"


@functools.cache
def _deps() -> WorkerDeps:
    from shared import clients
    from shared.settings import get_settings

    return WorkerDeps(get_settings(), clients.warehouse(), clients.kms_client())


@functions_framework.cloud_event
def gcp(cloud_event):
    """Entry point: process one delivery of a run request (raising makes Pub/Sub redeliver)."""
    handle_run_event(
        cloud_event.data,
        PROVIDER,
        _deps(),
        event_id=cloud_event["id"],
        traceparent=cloud_event.get("traceparent"),  # the CloudEvent's distributed-tracing extension
    )
