output "scheduled_jobs" {
  description = "pipeline_id => {job_id, cron, time_zone, date} for every pipeline config with a schedule."
  value       = local.scheduled_jobs
}

output "providers" {
  description = "The providers that have at least one pipeline config (each is deployed as a function)."
  value       = local.providers
}
