variable "config_dir" {
  description = "Path of the repository's configs/ directory (pipelines/<provider>/<domain>/<pipeline>.yml)."
  type        = string
}
