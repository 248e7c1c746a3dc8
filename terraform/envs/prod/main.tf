# The prod environment: the whole service from ../../modules/service, sized for prod.
locals {
  repo_root = abspath("${path.module}/../../..")
}

module "service" {
  source      = "../../modules/service"
  project_id  = var.project_id
  environment = "prod"
  region      = var.region
  config_dir  = "${local.repo_root}/configs"
  archive_dir = var.archive_dir != "" ? var.archive_dir : "${local.repo_root}/build/functions"

  api_min_instances           = 1
  api_max_instances           = 20
  worker_max_instances        = 10
  queue_dispatches_per_second = 5
  queue_concurrent_dispatches = 10

  # Version numbers terraform/bootstrap/set-secrets.sh printed; a rotation adds a version and bumps it here.
  secret_versions = { root-api-key = "1", api-key-pepper = "1" }

  firestore_point_in_time_recovery = true
  firestore_delete_protection      = true
}
