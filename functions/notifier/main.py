"""CloudEvent function `notifier`: delivers cost-alerts messages to the orgs' signed webhooks. Thin: see shared/."""

import functions_framework

from shared.alerts.notifier import default_deps, handle_alert_event


@functions_framework.cloud_event
def notifier(cloud_event):
    """Entry point: one alert delivery (raising makes Pub/Sub retry, then dead-letter)."""
    handle_alert_event(cloud_event.data, default_deps())
