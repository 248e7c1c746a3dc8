# Every API the environment uses, enabled before anything that needs it: each other module of the service is
# called with `depends_on = [module.apis]`. serviceusage and cloudresourcemanager must already be on for a plan
# to read the project and enable the rest: terraform/bootstrap enables them (and keeps them here, idempotent).
locals {
  apis = toset([
    "artifactregistry.googleapis.com",     # the functions' built images (gcf-artifacts)
    "bigquery.googleapis.com",             # google_bigquery_*
    "cloudbuild.googleapis.com",           # function builds
    "cloudfunctions.googleapis.com",       # google_cloudfunctions2_function
    "cloudkms.googleapis.com",             # google_kms_*
    "cloudresourcemanager.googleapis.com", # data "google_project"
    "cloudscheduler.googleapis.com",       # google_cloud_scheduler_job
    "cloudtasks.googleapis.com",           # google_cloud_tasks_queue
    "firestore.googleapis.com",            # google_firestore_*
    "iam.googleapis.com",                  # service accounts (bootstrap) and their tokens
    "iamcredentials.googleapis.com",       # OIDC tokens of the pusher, scheduler and tasks identities
    "logging.googleapis.com",              # google_logging_metric
    "monitoring.googleapis.com",           # google_monitoring_alert_policy
    "pubsub.googleapis.com",               # google_pubsub_*
    "run.googleapis.com",                  # gen2 functions are Cloud Run services; google_cloud_run_service_iam_*
    "secretmanager.googleapis.com",        # google_secret_manager_*
    "serviceusage.googleapis.com",         # google_project_service
    "storage.googleapis.com",              # google_storage_*
  ])
}

resource "google_project_service" "api" {
  for_each           = local.apis
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
