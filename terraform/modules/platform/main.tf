# What every function of one environment shares: APIs, the source bucket, the central dataset, the KMS key
# that encrypts org credentials and the Secret Manager secrets (values are added out of band, never here).
locals {
  apis = [
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudkms.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
  ]
  labels = { service = "data-pipeline-service", environment = var.environment }
}

resource "google_project_service" "api" {
  for_each           = toset(local.apis)
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  # Archives are named by content hash; old ones are only needed for a rollback, not forever.
  lifecycle_rule {
    condition { age = 90 }
    action { type = "Delete" }
  }
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

# Secrets only: their versions (the values) are added by an operator, e.g.
# `openssl rand -base64 48 | gcloud secrets versions add <id> --data-file=-`, so no value is ever in state.
resource "google_secret_manager_secret" "secret" {
  for_each  = toset(["root-api-key", "api-key-pepper"])
  project   = var.project_id
  secret_id = "${var.name_prefix}-${each.value}"
  labels    = local.labels

  replication {
    auto {}
  }
}
