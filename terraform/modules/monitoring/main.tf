# Alerts an operator acts on: run requests that Pub/Sub gave up on (dead letters), dead letters the scheduled
# drain does not move, and runs the reaper had to settle (stuck past their timeout).
locals {
  dead_letter_hold = "${var.name_prefix}-*-dead-letter-hold"
}

# The reaper writes one "reaped a stuck run" WARNING per run it settles (shared/runs/reaper.py).
resource "google_logging_metric" "stuck_runs" {
  project     = var.project_id
  name        = "${var.name_prefix}-stuck-runs"
  description = "Runs the reaper settled as RUN_TIMEOUT (stuck past their time limit)."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    resource.labels.service_name="${var.api_service_name}"
    jsonPayload.message="reaped a stuck run"
  EOT
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_monitoring_alert_policy" "stuck_runs" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: runs stuck past their timeout"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "the reaper settled a stuck run"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.stuck_runs.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "600s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    content   = "Runs failed as RUN_TIMEOUT by the scheduled reaper: workers crashed, timed out or never got the request. See the README's Operations section."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: dead-lettered run requests"
  combiner              = "OR"
  notification_channels = var.notification_channels

  # New dead letters: Pub/Sub forwarded a run request after its last delivery attempt.
  conditions {
    display_name = "a run request was dead-lettered"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=monitoring.regex.full_match(\"${var.name_prefix}-.*-push\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  # A backlog the drain (every 15 min) does not move: the api cannot pull or store them.
  conditions {
    display_name = "dead letters wait undrained for an hour"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=monitoring.regex.full_match(\"${var.name_prefix}-.*-dead-letter-hold\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "3600s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content   = "List and replay: `dps dead-letters list`, `dps dead-letters replay` (README, Operations: Dead letters and replay)."
    mime_type = "text/markdown"
  }
}
