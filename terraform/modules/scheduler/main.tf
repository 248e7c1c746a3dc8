# The scheduler: one Cloud Scheduler job per scheduled pipeline config (crons read from configs/), calling the
# api's trigger as the scheduler's own identity (OIDC); the Cloud Tasks queue whose named tasks the trigger
# creates, with the dispatch rate, concurrency and retry policy that bound the load on providers and warehouse.
module "configs" {
  source     = "../pipeline_configs"
  config_dir = var.config_dir
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "data-pipeline-service Cloud Scheduler caller (${var.environment})"
}

resource "google_cloud_tasks_queue" "runs" {
  project  = var.project_id
  name     = "${var.name_prefix}-scheduled-runs"
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.max_dispatches_per_second
    max_concurrent_dispatches = var.max_concurrent_dispatches
  }

  # A quota refusal (429) or an outage (503) retries the task: 30 s, 1, 2, 4, 8 min, then every 10 min, for
  # at most a day (the next day's schedule takes over).
  retry_config {
    max_attempts       = 100
    max_retry_duration = "86400s"
    min_backoff        = "30s"
    max_backoff        = "600s"
    max_doublings      = 4
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }
}

# Only the api's service account creates tasks; no one else needs to read them (their headers hold the
# root key process-queue checks, visible only with cloudtasks.tasks.fullView, which no one is granted).
resource "google_cloud_tasks_queue_iam_member" "enqueuers" {
  for_each = toset(var.enqueuer_members)
  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.runs.name
  role     = "roles/cloudtasks.enqueuer"
  member   = each.value
}

resource "google_cloud_scheduler_job" "pipeline" {
  for_each         = module.configs.scheduled_jobs
  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-${each.value.job_id}"
  description      = "Run ${each.key} for ${each.value.date} (schedule from configs/pipelines/${each.key}.yml)"
  schedule         = each.value.cron
  time_zone        = each.value.time_zone
  attempt_deadline = "600s"

  # The trigger is idempotent (named tasks), so Cloud Scheduler may retry it freely.
  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
    max_doublings        = 2
  }

  http_target {
    http_method = "POST"
    uri         = "${var.api_url}/api/v1/scheduler/trigger"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode({ pipeline_id = each.key }))

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = var.api_url
    }
  }
}
