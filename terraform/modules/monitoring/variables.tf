variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of resource names, e.g. dps-stage (topics and subscriptions start with it)."
  type        = string
}

variable "api_service_name" {
  description = "Cloud Run service of the api function (where the reaper logs)."
  type        = string
}

variable "notification_channels" {
  description = "Monitoring notification channel ids the alerts go to (none: visible in the console only)."
  type        = list(string)
  default     = []
}
