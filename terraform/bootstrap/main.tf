# Once per project, by an owner: what the environment's Terraform needs before its first plan and must not be
# able to grant itself. The state bucket; the APIs a plan needs before it can enable the others; every
# identity of the environment (runtime, push, scheduler, tasks, build, deployer) with its project roles; the
# service-account-level grants (actAs); the two secrets (their values are added by set-secrets.sh, never here).
module "configs" {
  source     = "../modules/pipeline_configs"
  config_dir = "${path.module}/../../configs"
}

locals {
  prefix = "dps-${var.environment}"
  labels = { service = "data-pipeline-service", environment = var.environment }

  # A plan reads the project (cloudresourcemanager) and enables services (serviceusage): both must be on first.
  # These are enabled by `gcloud services enable` before this root's own first apply (README.md), and kept here.
  bootstrap_apis = toset([
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "secretmanager.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
  ])

  # Identity => project roles. Keys are static (the providers come from configs/, read at plan time).
  runtime = merge(
    { api = ["roles/bigquery.jobUser", "roles/datastore.user"] },
    # The alert notifier reads webhook settings and marks deliveries in Firestore (shared/alerts/notifier.py).
    { notifier = ["roles/datastore.user"] },
    # Workers create org datasets (bigquery.user) and run jobs; their write access to org datasets is granted
    # on each dataset by whoever creates it (WORKER_SERVICE_ACCOUNTS, shared/warehouse/datasets.py).
    { for provider in module.configs.providers : provider => ["roles/bigquery.user", "roles/datastore.user"] },
  )
  identities = merge(
    { for name, roles in local.runtime : name => { display = "${name} function", roles = roles } },
    {
      pusher    = { display = "Pub/Sub push identity", roles = [] }
      scheduler = { display = "Cloud Scheduler caller (OIDC)", roles = [] }
      tasks     = { display = "Cloud Tasks caller (OIDC)", roles = [] }
      # Builds the functions' containers (build_config.service_account): logs and the gcf-artifacts repository;
      # it reads the sources bucket through a bucket-level grant made by the environment.
      builder = { display = "function builds", roles = ["roles/logging.logWriter", "roles/artifactregistry.writer"] }
    },
  )
  identity_roles = merge([
    for name, identity in local.identities : { for role in identity.roles : "${name} ${role}" => { name = name, role = role } }
  ]...)

  # The deployer applies terraform/envs/<environment> from Cloud Build. No project IAM admin, no service account
  # admin, no secret access: identities and their project roles live here, and the secrets' values never reach it.
  deployer_roles = toset([
    "roles/artifactregistry.reader",      # functions' images (gen2 deploys read the build's repository)
    "roles/bigquery.dataOwner",           # the central dataset and its dataset-level grants
    "roles/browser",                      # data "google_project" (project number for the service agents)
    "roles/cloudfunctions.admin",         # functions and their settings
    "roles/cloudkms.admin",               # key ring, key and key-level grants
    "roles/cloudscheduler.admin",         # scheduler jobs
    "roles/cloudtasks.admin",             # the queue and its queue-level grant
    "roles/datastore.owner",              # the Firestore database, indexes and TTL fields
    "roles/logging.configWriter",         # the log-based metric of stuck runs
    "roles/logging.logWriter",            # Cloud Build logs (CLOUD_LOGGING_ONLY)
    "roles/monitoring.alertPolicyEditor", # alert policies
    "roles/pubsub.admin",                 # topics, subscriptions and their grants
    "roles/run.admin",                    # run.invoker grants on the functions' Cloud Run services
    "roles/serviceusage.serviceUsageAdmin",
    "roles/storage.admin", # sources bucket and objects (the state bucket is granted below)
  ])
}

resource "google_project_service" "bootstrap" {
  for_each           = local.bootstrap_apis
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# Terraform state of both roots of this project (envs/<environment> and, after migration, this one).
resource "google_storage_bucket" "tfstate" {
  project                     = var.project_id
  name                        = "${var.project_id}-tfstate"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Cloud Build's first step refuses a build whose _ENV differs from this label (cloudbuild.yaml).
  labels = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 20
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_project_service.bootstrap]
}

resource "google_service_account" "identity" {
  for_each     = local.identities
  project      = var.project_id
  account_id   = "${local.prefix}-${each.key}"
  display_name = "data-pipeline-service ${each.value.display} (${var.environment})"
  depends_on   = [google_project_service.bootstrap]
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "${local.prefix}-deployer"
  display_name = "data-pipeline-service deployer: Cloud Build's terraform apply (${var.environment})"
  depends_on   = [google_project_service.bootstrap]
}

resource "google_project_iam_member" "identity" {
  for_each = local.identity_roles
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.identity[each.value.name].email}"
}

resource "google_project_iam_member" "deployer" {
  for_each = local.deployer_roles
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_storage_bucket_iam_member" "deployer_state" {
  bucket = google_storage_bucket.tfstate.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.deployer.email}"
}

# actAs: deploying a function as its runtime and build identities, a push subscription as the pusher, a
# scheduler job as the scheduler each need iam.serviceAccounts.actAs on that identity, granted on it alone.
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each           = local.identities
  service_account_id = google_service_account.identity[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.deployer.email}"
}

# The api creates Cloud Tasks tasks carrying an OIDC token of the tasks identity (actAs on it, nothing else).
resource "google_service_account_iam_member" "api_acts_as_tasks" {
  service_account_id = google_service_account.identity["tasks"].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.identity["api"].email}"
}

# Onboarding a granted-mode GCP org (api, dps) dry-runs the export query as the gcp function's identity, so the
# refusal names exactly the grant the org is missing: the api impersonates that identity for it, nothing else.
resource "google_service_account_iam_member" "api_impersonates_gcp_reader" {
  service_account_id = google_service_account.identity["gcp"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.identity["api"].email}"
}

# Who may start Cloud Build as the deployer (a build trigger's owner, the operators of the runbook).
resource "google_service_account_iam_member" "operators_act_as_deployer" {
  for_each           = toset(var.operators)
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}

# The secrets only; set-secrets.sh adds their first versions and the environment pins those version numbers.
resource "google_secret_manager_secret" "secret" {
  for_each  = toset(["root-api-key", "api-key-pepper"])
  project   = var.project_id
  secret_id = "${local.prefix}-${each.value}"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.bootstrap]
}

# The deployer grants the api read access on these secrets; it never reads them (no secretAccessor).
resource "google_project_iam_custom_role" "secret_iam" {
  project     = var.project_id
  role_id     = "dps_${var.environment}_secret_iam"
  title       = "data-pipeline-service secret IAM (${var.environment})"
  description = "Read a secret's metadata and manage who may access it; never its payload."
  permissions = [
    "secretmanager.secrets.get",
    "secretmanager.secrets.getIamPolicy",
    "secretmanager.secrets.setIamPolicy",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
  ]
}

resource "google_secret_manager_secret_iam_member" "deployer" {
  for_each  = google_secret_manager_secret.secret
  project   = var.project_id
  secret_id = each.value.secret_id
  role      = google_project_iam_custom_role.secret_iam.name
  member    = "serviceAccount:${google_service_account.deployer.email}"
}

# Pub/Sub signs push tokens as the pusher (needed explicitly on projects older than April 2021; harmless after).
data "google_project" "this" {
  project_id = var.project_id
  depends_on = [google_project_service.bootstrap]
}

resource "google_service_account_iam_member" "pubsub_agent_signs_push_tokens" {
  service_account_id = google_service_account.identity["pusher"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
