# The stage environment: the whole service from ../../modules/service, sized for stage.
locals {
  repo_root = abspath("${path.module}/../../..")
}

module "service" {
  source      = "../../modules/service"
  project_id  = var.project_id
  environment = "stage"
  region      = var.region
  config_dir  = "${local.repo_root}/configs"
  archive_dir = var.archive_dir != "" ? var.archive_dir : "${local.repo_root}/build/functions"

  api_min_instances           = 0
  api_max_instances           = 5
  worker_max_instances        = 3
  queue_dispatches_per_second = 2
  queue_concurrent_dispatches = 4

  # Version numbers terraform/bootstrap/set-secrets.sh printed; a rotation adds a version and bumps it here.
  secret_versions = { root-api-key = "1", api-key-pepper = "1" }

  firestore_point_in_time_recovery = false
  firestore_delete_protection      = false
}
