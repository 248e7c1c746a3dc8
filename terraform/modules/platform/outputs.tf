output "source_bucket" {
  description = "Bucket holding the functions' source archives."
  value       = google_storage_bucket.sources.name
}

output "central_dataset" {
  description = "Dataset id of the central tables."
  value       = google_bigquery_dataset.organizations.dataset_id
}

output "kms_key_id" {
  description = "projects/P/locations/L/keyRings/R/cryptoKeys/K (KMS_KEY_NAME)."
  value       = google_kms_crypto_key.credentials.id
}

output "secret_ids" {
  description = "Secret ids by role: root-api-key, api-key-pepper."
  value       = { for role, secret in google_secret_manager_secret.secret : role => secret.secret_id }
}

output "api_ids" {
  description = "service => id of its google_project_service, for resources that must wait for an API (Firestore)."
  value       = { for service, api in google_project_service.api : service => api.id }
}
