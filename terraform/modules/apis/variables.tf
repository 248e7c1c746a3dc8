variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}
