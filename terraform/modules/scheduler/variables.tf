variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}

variable "environment" {
  description = "stage or prod."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of resource names, e.g. dps-stage."
  type        = string
}

variable "region" {
  description = "Region of the queue and the scheduler jobs."
  type        = string
}

variable "config_dir" {
  description = "Path of configs/: one job per pipeline config with a schedule."
  type        = string
}

variable "api_url" {
  description = "URL of the api function (target of the jobs and the OIDC audience)."
  type        = string
}

variable "enqueuer_members" {
  description = "Static name => member allowed to create tasks ({api = \"serviceAccount:...\"}): for_each keys known at plan."
  type        = map(string)
  default     = {}
}

variable "scheduler_service_account_email" {
  description = "The identity Cloud Scheduler calls the api as (OIDC; terraform/bootstrap makes it)."
  type        = string
}

variable "attempt_deadline_seconds" {
  description = "How long Cloud Scheduler waits for one call: at most the api function's timeout."
  type        = number
  default     = 300
  validation {
    condition     = var.attempt_deadline_seconds >= 15 && var.attempt_deadline_seconds <= 1800
    error_message = "Cloud Scheduler allows an HTTP attempt deadline of 15 s to 30 min."
  }
}

variable "max_dispatches_per_second" {
  description = "Tasks started per second: bounds the run requests the schedule makes at once."
  type        = number
  default     = 5
}

variable "max_concurrent_dispatches" {
  description = "process-queue calls in flight."
  type        = number
  default     = 10
}
