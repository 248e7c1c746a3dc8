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
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Function name: a folder of functions/ (api, openai, gcp, anthropic)."
  type        = string
}

variable "entry_point" {
  description = "The decorated function in functions/<name>/main.py."
  type        = string
}

variable "description" {
  description = "What the function does."
  type        = string
  default     = ""
}

variable "archive_path" {
  description = "The function's deploy package (zip of main.py, the shared/ modules and configs it reaches, requirements.txt)."
  type        = string
}

variable "source_bucket" {
  description = "Bucket the archive is uploaded to."
  type        = string
}

variable "environment_variables" {
  description = "Plain settings (never secrets)."
  type        = map(string)
  default     = {}
}

variable "secret_environment_variables" {
  description = "Environment variable => {secret id, version number}: pinned versions, never \"latest\"."
  type        = map(object({ secret = string, version = string }))
  default     = {}
  validation {
    condition     = alltrue([for s in values(var.secret_environment_variables) : can(regex("^[0-9]+$", s.version))])
    error_message = "Pin a secret version number (terraform/bootstrap/set-secrets.sh prints it), not latest."
  }
}

variable "service_account_email" {
  description = "The runtime identity (made by terraform/bootstrap, with its project roles)."
  type        = string
}

variable "build_service_account_email" {
  description = "The identity Cloud Build builds the function as (build_config.service_account; terraform/bootstrap)."
  type        = string
}

variable "ingress_settings" {
  description = "ALLOW_ALL for the api (org clients); ALLOW_INTERNAL_ONLY for workers (Pub/Sub push of this project)."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress_settings)
    error_message = "ingress_settings must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "memory" {
  description = "Memory, e.g. 512Mi."
  type        = string
  default     = "512Mi"
}

variable "cpu" {
  description = "vCPUs per instance."
  type        = string
  default     = "1"
}

variable "timeout_seconds" {
  description = "Request timeout (a worker's must exceed the longest pipeline timeout)."
  type        = number
  default     = 60
}

variable "min_instances" {
  description = "Instances kept warm."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Upper bound of instances (bounds the load on providers and the warehouse)."
  type        = number
  default     = 10
}

variable "concurrency" {
  description = "Requests one instance serves at once (modules/service sets 1 for workers, so max_instances bounds runs)."
  type        = number
  default     = 8
}
