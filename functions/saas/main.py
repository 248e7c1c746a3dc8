"""CloudEvent function `saas`: consumes SaaS subscription run requests from Pub/Sub. Thin: all logic in shared/."""

import functions_framework

from shared.providers.saas import PROVIDER
from shared.worker.entry import handle_cloud_event


@functions_framework.cloud_event
def saas(cloud_event):
    """Entry point: process one delivery of a run request (raising makes Pub/Sub redeliver)."""
    handle_cloud_event(cloud_event, PROVIDER)
