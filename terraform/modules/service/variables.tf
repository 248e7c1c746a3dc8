variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}

variable "environment" {
  description = "stage or prod (ENVIRONMENT; org datasets are {org}_{environment})."
  type        = string
  validation {
    condition     = contains(["stage", "prod"], var.environment)
    error_message = "environment must be stage or prod."
  }
}

variable "region" {
  description = "Region of functions, queue and scheduler jobs."
  type        = string
  default     = "us-central1"
}

variable "bigquery_location" {
  description = "BigQuery location (BIGQUERY_LOCATION)."
  type        = string
  default     = "US"
}

variable "firestore_location" {
  description = "Location of the Firestore database (nam5: the US multi-region, beside BigQuery's US); fixed once created."
  type        = string
  default     = "nam5"
}

variable "firestore_point_in_time_recovery" {
  description = "Firestore point-in-time recovery (7 days of readable versions); on in prod."
  type        = bool
  default     = false
}

variable "firestore_delete_protection" {
  description = "Firestore delete protection; on in prod."
  type        = bool
  default     = true
}

variable "config_dir" {
  description = "Path of the repository's configs/."
  type        = string
}

variable "archive_dir" {
  description = "Directory of the deploy packages <function>.zip (python -m devstack.packaging)."
  type        = string
}

variable "api_min_instances" {
  description = "Warm api instances (cold starts cost ~1-2 s)."
  type        = number
  default     = 0
}

variable "api_max_instances" {
  description = "Upper bound of api instances."
  type        = number
  default     = 10
}

variable "worker_max_instances" {
  description = "Upper bound of instances per provider function: bounds concurrent runs per provider."
  type        = number
  default     = 5
}

variable "delivery_max_seconds" {
  description = "Seconds one Pub/Sub push delivery may work (DELIVERY_MAX_SECONDS); longer work fans out as slices."
  type        = number
  default     = 300
  validation {
    condition     = var.delivery_max_seconds >= 1 && var.delivery_max_seconds <= 540
    error_message = "delivery_max_seconds must be 1..540: a push delivery may last at most 600 s (the ack deadline)."
  }
}

variable "worker_timeout_seconds" {
  description = "Request timeout of provider functions: the delivery bound plus time to settle, inside the 600 s push limit."
  type        = number
  default     = 360
  validation {
    condition     = var.worker_timeout_seconds <= 600 && var.worker_timeout_seconds >= var.delivery_max_seconds + 30
    error_message = "Worker timeout: at least delivery_max_seconds + 30 s (to settle), at most the 600 s ack deadline."
  }
}

variable "api_timeout_seconds" {
  description = "Request timeout of the api; Cloud Scheduler's attempt deadline is set to it (never longer)."
  type        = number
  default     = 300
}

variable "api_public" {
  description = "Grant run.invoker to allUsers on the api (org clients use X-API-Key); false where an org policy forbids it."
  type        = bool
  default     = true
}

variable "secret_versions" {
  description = "Pinned version numbers of the secrets {root-api-key, api-key-pepper} (terraform/bootstrap/set-secrets.sh)."
  type        = map(string)
  validation {
    condition = (
      length(setsubtract(["root-api-key", "api-key-pepper"], keys(var.secret_versions))) == 0 &&
      alltrue([for v in values(var.secret_versions) : can(regex("^[0-9]+$", v))])
    )
    error_message = "secret_versions needs root-api-key and api-key-pepper, each a version number (not latest)."
  }
}

variable "notification_channels" {
  description = "Monitoring notification channel ids for the dead-letter and stuck-run alerts."
  type        = list(string)
  default     = []
}

variable "queue_dispatches_per_second" {
  description = "Scheduled tasks started per second."
  type        = number
  default     = 5
}

variable "queue_concurrent_dispatches" {
  description = "Scheduled tasks in flight."
  type        = number
  default     = 10
}
