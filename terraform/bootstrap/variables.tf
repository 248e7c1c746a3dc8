variable "project_id" {
  description = "The Google Cloud project of one environment (stage and prod are separate projects)."
  type        = string
}

variable "environment" {
  description = "stage or prod: names every identity dps-<environment>-* and labels the state bucket."
  type        = string
  validation {
    condition     = contains(["stage", "prod"], var.environment)
    error_message = "environment must be stage or prod."
  }
}

variable "region" {
  description = "Region of the state bucket (and of the environment's functions)."
  type        = string
  default     = "us-central1"
}

variable "operators" {
  description = "Members (user:, group:) who may start Cloud Build as the deployer (iam.serviceAccountUser on it)."
  type        = list(string)
  default     = []
}
