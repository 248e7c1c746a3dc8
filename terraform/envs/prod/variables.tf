variable "project_id" {
  description = "Google Cloud project of the prod environment (Cloud Build passes $PROJECT_ID)."
  type        = string
}

variable "region" {
  description = "Region of functions, queue and scheduler jobs."
  type        = string
  default     = "us-central1"
}

variable "archive_dir" {
  description = "Directory of the deploy packages (default: build/functions of the repository)."
  type        = string
  default     = ""
}
