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
  description = "Secrets an operator must add a version to after the first apply."
  value       = module.platform.secret_ids
}
