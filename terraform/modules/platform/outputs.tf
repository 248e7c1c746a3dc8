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
