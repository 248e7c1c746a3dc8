# What every function of one environment shares: the source bucket, the central dataset and the KMS key that
# encrypts org credentials. The APIs are enabled by modules/apis (this module is called after it); the secrets
# and every identity are made by terraform/bootstrap.
locals {
  labels = { service = "data-pipeline-service", environment = var.environment }
}

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  # Archives are named by content hash, and a deploy of a new hash deletes the previous object: versioning keeps
  # it as a noncurrent version for 90 days (a rollback restores it, or rebuilds the same bytes from the previous
  # commit: packages are deterministic). The live archive of each function is never deleted by a rule.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 90
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}

# Cloud Build fetches each function's archive as the build identity.
resource "google_storage_bucket_iam_member" "builder_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${var.build_service_account_email}"
}

resource "google_bigquery_dataset" "organizations" {
  project     = var.project_id
  dataset_id  = var.central_dataset
  location    = var.bigquery_location
  description = "Central tables: orgs, keys, subscriptions, credentials, quotas, run log (tables made by `dps bootstrap`)."
  labels      = local.labels

  # The run log and the orgs' keys live here: never let a plan drop them.
  delete_contents_on_destroy = false
}

resource "google_kms_key_ring" "credentials" {
  project  = var.project_id
  name     = "${var.name_prefix}-credentials"
  location = var.kms_location
}

resource "google_kms_crypto_key" "credentials" {
  name            = "credentials"
  key_ring        = google_kms_key_ring.credentials.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = "7776000s" # 90 days; old versions stay enabled so stored ciphertexts still decrypt
  labels          = local.labels

  lifecycle {
    prevent_destroy = true # destroying the key would make every stored credential unreadable
  }
}
