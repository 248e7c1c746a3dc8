output "api_url" {
  description = "Base URL of the run API."
  value       = module.functions["api"].url
}

output "functions" {
  description = "Function name => {url, entry_point, service_account_email}."
  value = {
    for name, function in module.functions :
    name => { url = function.url, entry_point = function.entry_point, service_account = function.service_account_email }
  }
}

output "scheduler_jobs" {
  description = "pipeline_id => Cloud Scheduler job."
  value       = module.scheduler.jobs
}

output "tasks_queue" {
  description = "The Cloud Tasks queue of scheduled runs."
  value       = module.scheduler.queue_id
}

output "secret_ids" {
  description = "The secrets the api mounts, at their pinned versions (values set by terraform/bootstrap/set-secrets.sh)."
  value       = { for name, s in local.api_secrets : name => "${s.secret}:${s.version}" }
}

output "maintenance_jobs" {
  description = "Scheduled reaper and dead-letter drain."
  value       = module.scheduler.maintenance_jobs
}

output "worker_service_accounts" {
  description = "WORKER_SERVICE_ACCOUNTS: the provider functions' service accounts, WRITER on every org dataset (dps needs it)."
  value       = join(",", local.worker_accounts)
}

output "gcp_export_reader" {
  description = "GCP_EXPORT_READER: the service account a granted-mode org grants roles/bigquery.dataViewer on its billing export dataset."
  value       = local.identity["gcp"]
}
