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
  description = "Members allowed to create tasks (the api function's service account)."
  type        = list(string)
  default     = []
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
