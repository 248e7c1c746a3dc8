# The whole service in one environment: APIs first, then platform, Firestore, the api function and one function
# per provider with a pipeline config, a run topic per provider, the scheduler, the alerts, and the
# least-privilege grants between them. Identities and their project roles come from terraform/bootstrap.
module "configs" {
  source     = "../pipeline_configs"
  config_dir = var.config_dir
}

module "apis" {
  source     = "../apis"
  project_id = var.project_id
}

data "google_project" "this" {
  project_id = var.project_id
  depends_on = [module.apis]
}

locals {
  name_prefix = "dps-${var.environment}"
  # Gen2 functions answer on this deterministic URL too; using it avoids a cycle (the api's settings name it).
  api_url      = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.name_prefix}-api"
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  # The identities terraform/bootstrap made, by their deterministic emails: known at plan time, so every
  # for_each below is keyed by a static name and never by an email computed during apply.
  identity = {
    for name in concat(["api", "notifier", "pusher", "scheduler", "tasks", "builder"], tolist(module.configs.providers)) :
    name => "${local.name_prefix}-${name}@${var.project_id}.iam.gserviceaccount.com"
  }
  # Only the api authenticates callers (root key, org keys): the workers get no secret at all.
  api_secrets = {
    CA_ROOT_API_KEY = { secret = "${local.name_prefix}-root-api-key", version = var.secret_versions["root-api-key"] }
    API_KEY_PEPPER  = { secret = "${local.name_prefix}-api-key-pepper", version = var.secret_versions["api-key-pepper"] }
  }
  worker_accounts = [for provider in sort(tolist(module.configs.providers)) : local.identity[provider]]
  common_env = {
    GCP_PROJECT_ID        = var.project_id
    ENVIRONMENT           = var.environment
    KMS_KEY_NAME          = module.platform.kms_key_id
    CENTRAL_DATASET       = module.platform.central_dataset
    BIGQUERY_LOCATION     = var.bigquery_location
    PIPELINE_TOPIC_PREFIX = local.name_prefix
    FIRESTORE_DATABASE    = module.firestore.database_name
    DELIVERY_MAX_SECONDS  = tostring(var.delivery_max_seconds)
    # Whoever creates an org dataset (api onboarding or a worker's first run) grants these WRITER on it.
    WORKER_SERVICE_ACCOUNTS = join(",", local.worker_accounts)
    # GCP billing in granted mode: the account an org grants BigQuery Data Viewer on its export dataset.
    GCP_EXPORT_READER = local.identity["gcp"]
  }
  # Workers start without the auth secrets (shared/platform/settings.py) and authenticate no one.
  worker_env = { AUTH_SECRETS = "none" }
  # Only the api schedules; kept out of `functions` so its for_each never waits on the scheduler's resources.
  api_env = {
    CLOUD_TASKS_QUEUE         = module.scheduler.queue_id
    SCHEDULER_TARGET_URL      = local.api_url
    SCHEDULER_AUDIENCE        = local.api_url
    SCHEDULER_SERVICE_ACCOUNT = local.identity["scheduler"]
    TASKS_SERVICE_ACCOUNT     = local.identity["tasks"]
  }
  # api + one CloudEvent function per provider that has a pipeline config (functions/<name>/main.py, entry
  # point of the same name). Workers serve one request per instance, so worker_max_instances bounds
  # concurrent runs per provider; their ingress is internal (Pub/Sub push of this project).
  functions = merge(
    {
      api = {
        description = "Run API and scheduler routes"
        timeout     = var.api_timeout_seconds
        memory      = "512Mi"
        concurrency = 8
        ingress     = "ALLOW_ALL" # org clients call it with X-API-Key
      }
    },
    {
      # Delivers cost-alerts to the orgs' signed webhooks (Pub/Sub push); a webhook call is bounded at 10 s.
      notifier = {
        description = "Delivers budget and anomaly alerts to org webhooks (Pub/Sub push)"
        timeout     = 60
        memory      = "256Mi"
        concurrency = 8
        ingress     = "ALLOW_INTERNAL_ONLY"
      }
    },
    {
      for provider in module.configs.providers : provider => {
        description = "Runs ${provider} pipelines (Pub/Sub push)"
        timeout     = var.worker_timeout_seconds
        memory      = "1Gi"
        concurrency = 1
        ingress     = "ALLOW_INTERNAL_ONLY"
      }
    },
  )
}

module "platform" {
  source                      = "../platform"
  project_id                  = var.project_id
  environment                 = var.environment
  name_prefix                 = local.name_prefix
  region                      = var.region
  bigquery_location           = var.bigquery_location
  build_service_account_email = local.identity["builder"]
  depends_on                  = [module.apis]
}

# The control plane's mutable state (quotas, runs, slices, in-flight index, markers, dead letters).
module "firestore" {
  source                 = "../firestore"
  project_id             = var.project_id
  location_id            = var.firestore_location
  firestore_api_id       = module.apis.api_ids["firestore.googleapis.com"]
  point_in_time_recovery = var.firestore_point_in_time_recovery
  delete_protection      = var.firestore_delete_protection
  depends_on             = [module.apis]
}

module "functions" {
  source                       = "../function"
  for_each                     = local.functions
  project_id                   = var.project_id
  environment                  = var.environment
  name_prefix                  = local.name_prefix
  region                       = var.region
  name                         = each.key
  entry_point                  = each.key
  description                  = each.value.description
  archive_path                 = "${var.archive_dir}/${each.key}.zip"
  source_bucket                = module.platform.source_bucket
  memory                       = each.value.memory
  service_account_email        = local.identity[each.key]
  build_service_account_email  = local.identity["builder"]
  secret_environment_variables = each.key == "api" ? local.api_secrets : {}
  environment_variables        = merge(local.common_env, each.key == "api" ? local.api_env : local.worker_env)
  timeout_seconds              = each.value.timeout
  concurrency                  = each.value.concurrency
  ingress_settings             = each.value.ingress
  min_instances                = each.key == "api" ? var.api_min_instances : 0
  max_instances                = each.key == "api" ? var.api_max_instances : var.worker_max_instances
  # The build reads the archive through the bucket-level grant made in platform.
  depends_on = [module.apis, module.platform]
}

module "scheduler" {
  source                          = "../scheduler"
  project_id                      = var.project_id
  environment                     = var.environment
  name_prefix                     = local.name_prefix
  region                          = var.region
  config_dir                      = var.config_dir
  api_url                         = local.api_url
  scheduler_service_account_email = local.identity["scheduler"]
  enqueuer_members                = { api = "serviceAccount:${local.identity["api"]}" }
  attempt_deadline_seconds        = var.api_timeout_seconds
  max_dispatches_per_second       = var.queue_dispatches_per_second
  max_concurrent_dispatches       = var.queue_concurrent_dispatches
  depends_on                      = [module.apis]
}

module "run_topics" {
  source                     = "../run_topic"
  for_each                   = module.configs.providers
  project_id                 = var.project_id
  environment                = var.environment
  provider_name              = each.key
  topic_name                 = "${local.name_prefix}-${each.key}"
  push_endpoint              = module.functions[each.key].url
  push_service_account_email = local.identity["pusher"]
  pubsub_agent               = local.pubsub_agent
  publisher_members          = { api = "serviceAccount:${local.identity["api"]}" }
  dead_letter_reader_members = { api = "serviceAccount:${local.identity["api"]}" }
  depends_on                 = [module.apis]
}

module "alerts" {
  source                     = "../alerts"
  project_id                 = var.project_id
  environment                = var.environment
  push_endpoint              = module.functions["notifier"].url
  push_service_account_email = local.identity["pusher"]
  pubsub_agent               = local.pubsub_agent
  publisher_members          = { for provider in module.configs.providers : provider => "serviceAccount:${local.identity[provider]}" }
  depends_on                 = [module.apis]
}

resource "google_cloud_run_service_iam_member" "pusher_invokes_notifier" {
  project    = var.project_id
  location   = var.region
  service    = module.functions["notifier"].service_name
  role       = "roles/run.invoker"
  member     = "serviceAccount:${local.identity["pusher"]}"
  depends_on = [module.apis]
}

# The notifier decrypts the orgs' webhook secrets (shared/alerts/webhook.py); it reads no warehouse data.
resource "google_kms_crypto_key_iam_member" "notifier_decrypts" {
  crypto_key_id = module.platform.kms_key_id
  role          = "roles/cloudkms.cryptoKeyDecrypter"
  member        = "serviceAccount:${local.identity["notifier"]}"
  depends_on    = [module.apis]
}

module "monitoring" {
  source                = "../monitoring"
  project_id            = var.project_id
  name_prefix           = local.name_prefix
  api_service_name      = module.functions["api"].service_name
  notification_channels = var.notification_channels
  depends_on            = [module.apis]
}

# Pub/Sub pushes to the workers as the pusher; only it may invoke them.
resource "google_cloud_run_service_iam_member" "pusher_invokes_workers" {
  for_each   = module.configs.providers
  project    = var.project_id
  location   = var.region
  service    = module.functions[each.key].service_name
  role       = "roles/run.invoker"
  member     = "serviceAccount:${local.identity["pusher"]}"
  depends_on = [module.apis]
}

# Cloud Scheduler (trigger, reaper, drain) and Cloud Tasks (process-queue) call the api as their own
# identities, so they keep working where an organization policy forbids public services (api_public = false).
resource "google_cloud_run_service_iam_member" "api_invokers" {
  for_each   = toset(["scheduler", "tasks"])
  project    = var.project_id
  location   = var.region
  service    = module.functions["api"].service_name
  role       = "roles/run.invoker"
  member     = "serviceAccount:${local.identity[each.key]}"
  depends_on = [module.apis]
}

# Org clients authenticate with X-API-Key, checked by the function: the api is public at the network level
# unless an organization policy forbids it (then front it with a load balancer or IAP and set api_public).
resource "google_cloud_run_service_iam_member" "api_public" {
  count      = var.api_public ? 1 : 0
  project    = var.project_id
  location   = var.region
  service    = module.functions["api"].service_name
  role       = "roles/run.invoker"
  member     = "allUsers"
  depends_on = [module.apis]
}

resource "google_bigquery_dataset_iam_member" "central_editors" {
  for_each   = { for name, function in local.functions : name => function if name != "notifier" }
  project    = var.project_id
  dataset_id = module.platform.central_dataset
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${local.identity[each.key]}"
  depends_on = [module.apis]
}

resource "google_kms_crypto_key_iam_member" "workers_decrypt" {
  for_each      = module.configs.providers
  crypto_key_id = module.platform.kms_key_id
  role          = "roles/cloudkms.cryptoKeyDecrypter"
  member        = "serviceAccount:${local.identity[each.key]}"
  depends_on    = [module.apis]
}

# /health/ready proves KMS answers with an Encrypt; the api never decrypts.
resource "google_kms_crypto_key_iam_member" "api_encrypts" {
  crypto_key_id = module.platform.kms_key_id
  role          = "roles/cloudkms.cryptoKeyEncrypter"
  member        = "serviceAccount:${local.identity["api"]}"
  depends_on    = [module.apis]
}
