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
  description = "Environment variable => Secret Manager secret id (latest version)."
  type        = map(string)
  default     = {}
}

variable "project_roles" {
  description = "Project-level roles of the function's service account (resource-level grants are made by the caller)."
  type        = list(string)
  default     = []
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
  description = "Requests one instance serves at once."
  type        = number
  default     = 8
}
