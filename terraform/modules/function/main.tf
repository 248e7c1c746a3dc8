# One Cloud Functions (gen2) function, its own service account, and its source archive named by content hash,
# so an unchanged package is never redeployed and a changed one always is.
resource "google_service_account" "function" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-${var.name}"
  display_name = "data-pipeline-service ${var.name} function (${var.environment})"
}

resource "google_storage_bucket_object" "source" {
  name   = "${var.name}-${filesha256(var.archive_path)}.zip"
  bucket = var.source_bucket
  source = var.archive_path
}

resource "google_cloudfunctions2_function" "function" {
  project     = var.project_id
  name        = "${var.name_prefix}-${var.name}"
  location    = var.region
  description = var.description
  labels      = { service = "data-pipeline-service", environment = var.environment, function = var.name }

  build_config {
    runtime     = "python313"
    entry_point = var.entry_point
    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function.email
    available_memory                 = var.memory
    timeout_seconds                  = var.timeout_seconds
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.concurrency
    available_cpu                    = var.cpu
    ingress_settings                 = "ALLOW_ALL" # api: org clients; workers: Pub/Sub push (OIDC-checked by Cloud Run)
    all_traffic_on_latest_revision   = true
    environment_variables            = var.environment_variables

    dynamic "secret_environment_variables" {
      for_each = var.secret_environment_variables
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }
}

# Each function reads only the secrets it is given.
resource "google_secret_manager_secret_iam_member" "reads" {
  for_each  = var.secret_environment_variables
  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function.email}"
}

resource "google_project_iam_member" "roles" {
  for_each = toset(var.project_roles)
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.function.email}"
}
