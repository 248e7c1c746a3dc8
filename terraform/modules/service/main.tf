# The whole service in one environment: platform, the api function and one function per provider with a
# pipeline config, a run topic per provider, the scheduler, and the least-privilege grants between them.
module "configs" {
  source     = "../pipeline_configs"
  config_dir = var.config_dir
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  name_prefix = "dps-${var.environment}"
  # Gen2 functions answer on this deterministic URL too; using it avoids a cycle (the api's settings name it).
  api_url      = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.name_prefix}-api"
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  secrets = {
    CA_ROOT_API_KEY = module.platform.secret_ids["root-api-key"]
    API_KEY_PEPPER  = module.platform.secret_ids["api-key-pepper"]
  }
  common_env = {
    GCP_PROJECT_ID        = var.project_id
    ENVIRONMENT           = var.environment
    KMS_KEY_NAME          = module.platform.kms_key_id
    CENTRAL_DATASET       = module.platform.central_dataset
    BIGQUERY_LOCATION     = var.bigquery_location
    PIPELINE_TOPIC_PREFIX = local.name_prefix
    FIRESTORE_DATABASE    = module.firestore.database_name
    DELIVERY_MAX_SECONDS  = tostring(var.delivery_max_seconds)
  }
  # Only the api schedules; kept out of `functions` so its for_each never waits on the scheduler's resources.
  api_env = {
    CLOUD_TASKS_QUEUE         = module.scheduler.queue_id
    SCHEDULER_TARGET_URL      = local.api_url
    SCHEDULER_AUDIENCE        = local.api_url
    SCHEDULER_SERVICE_ACCOUNT = module.scheduler.service_account_email
  }
  # api + one CloudEvent function per provider that has a pipeline config (functions/<name>/main.py, entry
  # point of the same name). Workers get bigquery.user: they create each org's dataset on its first run. Both
  # get datastore.user (Firestore reads, writes and transactions: quotas, runs, slices, markers, dead letters).
  functions = merge(
    {
      api = {
        description   = "Run API and scheduler routes"
        timeout       = 300
        memory        = "512Mi"
        project_roles = ["roles/bigquery.jobUser", "roles/datastore.user"]
      }
    },
    {
      for provider in module.configs.providers : provider => {
        description   = "Runs ${provider} pipelines (Pub/Sub push)"
        timeout       = var.worker_timeout_seconds
        memory        = "1Gi"
        project_roles = ["roles/bigquery.user", "roles/datastore.user"]
      }
    },
  )
}

module "platform" {
  source            = "../platform"
  project_id        = var.project_id
  environment       = var.environment
  name_prefix       = local.name_prefix
  region            = var.region
  bigquery_location = var.bigquery_location
}

# The control plane's mutable state (quotas, runs, slices, in-flight index, markers, dead letters).
module "firestore" {
  source                 = "../firestore"
  project_id             = var.project_id
  location_id            = var.firestore_location
  firestore_api_id       = module.platform.api_ids["firestore.googleapis.com"]
  point_in_time_recovery = var.firestore_point_in_time_recovery
  delete_protection      = var.firestore_delete_protection
}

module "functions" {
  source        = "../function"
  for_each      = local.functions
  project_id    = var.project_id
  environment   = var.environment
  name_prefix   = local.name_prefix
  region        = var.region
  name          = each.key
  entry_point   = each.key
  description   = each.value.description
  archive_path  = "${var.archive_dir}/${each.key}.zip"
  source_bucket = module.platform.source_bucket
  memory        = each.value.memory
  project_roles = each.value.project_roles
  # The settings refuse to start without both secrets outside local, so every function mounts them.
  secret_environment_variables = local.secrets
  environment_variables        = merge(local.common_env, each.key == "api" ? local.api_env : {})
  timeout_seconds              = each.value.timeout
  min_instances                = each.key == "api" ? var.api_min_instances : 0
  max_instances                = each.key == "api" ? var.api_max_instances : var.worker_max_instances
}

module "scheduler" {
  source                    = "../scheduler"
  project_id                = var.project_id
  environment               = var.environment
  name_prefix               = local.name_prefix
  region                    = var.region
  config_dir                = var.config_dir
  api_url                   = local.api_url
  enqueuer_members          = ["serviceAccount:${module.functions["api"].service_account_email}"]
  max_dispatches_per_second = var.queue_dispatches_per_second
  max_concurrent_dispatches = var.queue_concurrent_dispatches
}

# Pub/Sub pushes to the workers as this identity; only it may invoke them.
resource "google_service_account" "pusher" {
  project      = var.project_id
  account_id   = "${local.name_prefix}-pusher"
  display_name = "data-pipeline-service Pub/Sub push identity (${var.environment})"
}

resource "google_service_account_iam_member" "agent_signs_push_tokens" {
  service_account_id = google_service_account.pusher.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

module "run_topics" {
  source                     = "../run_topic"
  for_each                   = module.configs.providers
  project_id                 = var.project_id
  environment                = var.environment
  provider_name              = each.key
  topic_name                 = "${local.name_prefix}-${each.key}"
  push_endpoint              = module.functions[each.key].url
  push_service_account_email = google_service_account.pusher.email
  publisher_members          = ["serviceAccount:${module.functions["api"].service_account_email}"]
  dead_letter_reader_members = ["serviceAccount:${module.functions["api"].service_account_email}"]
}

resource "google_cloud_run_service_iam_member" "pusher_invokes_workers" {
  for_each = module.configs.providers
  project  = var.project_id
  location = var.region
  service  = module.functions[each.key].service_name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pusher.email}"
}

# The api is public at the network level: org clients authenticate with X-API-Key, the scheduler with OIDC and
# Cloud Tasks with the root key, all checked by the function itself.
resource "google_cloud_run_service_iam_member" "api_public" {
  project  = var.project_id
  location = var.region
  service  = module.functions["api"].service_name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_bigquery_dataset_iam_member" "central_editors" {
  for_each   = local.functions
  project    = var.project_id
  dataset_id = module.platform.central_dataset
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${module.functions[each.key].service_account_email}"
}

resource "google_kms_crypto_key_iam_member" "workers_decrypt" {
  for_each      = module.configs.providers
  crypto_key_id = module.platform.kms_key_id
  role          = "roles/cloudkms.cryptoKeyDecrypter"
  member        = "serviceAccount:${module.functions[each.key].service_account_email}"
}

# /health/ready proves KMS answers with an Encrypt; the api never decrypts.
resource "google_kms_crypto_key_iam_member" "api_encrypts" {
  crypto_key_id = module.platform.kms_key_id
  role          = "roles/cloudkms.cryptoKeyEncrypter"
  member        = "serviceAccount:${module.functions["api"].service_account_email}"
}
