output "api_url" {
  description = "Base URL of the run API."
  value       = module.service.api_url
}

output "functions" {
  description = "Deployed functions."
  value       = module.service.functions
}

output "scheduler_jobs" {
  description = "Cloud Scheduler jobs, one per scheduled pipeline config."
  value       = module.service.scheduler_jobs
}

output "secret_ids" {
  description = "The api's secrets at their pinned versions (values set by terraform/bootstrap/set-secrets.sh)."
  value       = module.service.secret_ids
}

output "worker_service_accounts" {
  description = "Export as WORKER_SERVICE_ACCOUNTS before running dps against this environment."
  value       = module.service.worker_service_accounts
}

output "gcp_export_reader" {
  description = "Tell granted-mode GCP orgs to grant this account roles/bigquery.dataViewer on their export dataset; export as GCP_EXPORT_READER before running dps."
  value       = module.service.gcp_export_reader
}
