variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}

variable "location_id" {
  description = "Firestore location, e.g. nam5 (US multi-region) or us-central1; fixed once the database exists."
  type        = string
}

variable "firestore_api_id" {
  description = "Id of the google_project_service enabling firestore.googleapis.com: the database is created after it."
  type        = string
}

variable "point_in_time_recovery" {
  description = "Keep 7 days of readable versions (POINT_IN_TIME_RECOVERY_ENABLED); on in prod."
  type        = bool
  default     = false
}

variable "delete_protection" {
  description = "DELETE_PROTECTION_ENABLED: the database cannot be deleted until this is turned off; on in prod."
  type        = bool
  default     = true
}

variable "deletion_policy" {
  description = "ABANDON: terraform destroy only forgets the database; DELETE: it deletes it (needs delete_protection off)."
  type        = string
  default     = "ABANDON"
  validation {
    condition     = contains(["ABANDON", "DELETE"], var.deletion_policy)
    error_message = "deletion_policy must be ABANDON or DELETE."
  }
}
