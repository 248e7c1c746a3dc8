# The scheduler: one Cloud Scheduler job per scheduled pipeline config (crons read from configs/), calling the
# api's trigger as the scheduler's own identity (OIDC); the maintenance jobs (reaper, dead-letter drain) as the
# same identity; the Cloud Tasks queue whose named tasks the trigger creates (each carrying an OIDC token of the
# tasks identity), with the dispatch rate, concurrency and retry policy that bound the load on providers and
# warehouse. Both identities are made by terraform/bootstrap.
module "configs" {
  source     = "../pipeline_configs"
  config_dir = var.config_dir
}

locals {
  # Settle stuck runs and move dead letters into Firestore without an operator (root key not involved).
  maintenance_jobs = {
    reap = {
      description = "Settle runs stuck past their timeout and recount slots (POST /api/v1/admin/reap)"
      schedule    = "*/10 * * * *"
      method      = "POST"
      path        = "/api/v1/admin/reap"
    }
    drain-dead-letters = {
      description = "Drain the dead-letter subscriptions into Firestore (GET /api/v1/admin/dead-letters)"
      schedule    = "*/15 * * * *"
      method      = "GET"
      path        = "/api/v1/admin/dead-letters?limit=1"
    }
  }
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

# Only the api's service account creates tasks. Tasks carry no secret: Cloud Tasks adds an OIDC token of the
# tasks identity (the api holds actAs on it, granted by terraform/bootstrap), which process-queue checks.
resource "google_cloud_tasks_queue_iam_member" "enqueuers" {
  for_each = var.enqueuer_members
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
  attempt_deadline = "${var.attempt_deadline_seconds}s" # <= the api's timeout: no attempt outlives its request

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
      service_account_email = var.scheduler_service_account_email
      audience              = var.api_url
    }
  }
}

resource "google_cloud_scheduler_job" "maintenance" {
  for_each         = local.maintenance_jobs
  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-${each.key}"
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = "UTC"
  attempt_deadline = "${var.attempt_deadline_seconds}s"

  retry_config {
    retry_count = 0 # the next run is minutes away; both routes are idempotent
  }

  http_target {
    http_method = each.value.method
    uri         = "${var.api_url}${each.value.path}"

    oidc_token {
      service_account_email = var.scheduler_service_account_email
      audience              = var.api_url
    }
  }
}
