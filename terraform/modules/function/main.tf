# One Cloud Functions (gen2) function run as its bootstrap-made identity, built as the build identity, from a
# source archive named by content hash, so an unchanged package is never redeployed and a changed one always is.
resource "google_storage_bucket_object" "source" {
  name   = "${var.name}-${filesha256(var.archive_path)}.zip"
  bucket = var.source_bucket
  source = var.archive_path
  # A new hash replaces this resource and deletes the previous object; the bucket's versioning keeps it
  # (noncurrent, 90 days: modules/platform), and a rebuild of the previous commit restores the same name.
}

# Each function reads only the secrets it is given, and is deployed only after it may: Cloud Run resolves a
# mounted secret version at deploy time, with the runtime identity.
resource "google_secret_manager_secret_iam_member" "reads" {
  for_each  = var.secret_environment_variables
  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.service_account_email}"
}

resource "google_cloudfunctions2_function" "function" {
  project     = var.project_id
  name        = "${var.name_prefix}-${var.name}"
  location    = var.region
  description = var.description
  labels      = { service = "data-pipeline-service", environment = var.environment, function = var.name }

  build_config {
    runtime         = "python313"
    entry_point     = var.entry_point
    service_account = "projects/${var.project_id}/serviceAccounts/${var.build_service_account_email}"
    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = var.service_account_email
    available_memory                 = var.memory
    timeout_seconds                  = var.timeout_seconds
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.concurrency
    available_cpu                    = var.cpu
    ingress_settings                 = var.ingress_settings
    all_traffic_on_latest_revision   = true
    environment_variables            = var.environment_variables

    dynamic "secret_environment_variables" {
      for_each = var.secret_environment_variables
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version # pinned: a new value is an explicit deploy
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.reads]
}
