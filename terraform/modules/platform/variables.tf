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
  description = "Region of the bucket (and of the functions using it)."
  type        = string
}

variable "central_dataset" {
  description = "Dataset id of the central tables (CENTRAL_DATASET)."
  type        = string
  default     = "organizations"
}

variable "bigquery_location" {
  description = "BigQuery location of the central and the org datasets (BIGQUERY_LOCATION)."
  type        = string
  default     = "US"
}

variable "kms_location" {
  description = "Location of the KMS key ring."
  type        = string
  default     = "global"
}

variable "build_service_account_email" {
  description = "The functions' build identity (terraform/bootstrap): reads the source archives."
  type        = string
}
