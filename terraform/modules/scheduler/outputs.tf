output "queue_id" {
  description = "projects/P/locations/L/queues/Q (CLOUD_TASKS_QUEUE)."
  value       = google_cloud_tasks_queue.runs.id
}

output "service_account_email" {
  description = "The identity Cloud Scheduler calls the trigger as (SCHEDULER_SERVICE_ACCOUNT)."
  value       = var.scheduler_service_account_email
}

output "maintenance_jobs" {
  description = "Scheduled maintenance: name => Cloud Scheduler job (reaper, dead-letter drain)."
  value       = { for name, job in google_cloud_scheduler_job.maintenance : name => job.name }
}

output "jobs" {
  description = "pipeline_id => {name, schedule, time_zone} of every Cloud Scheduler job."
  value = {
    for pipeline_id, job in google_cloud_scheduler_job.pipeline :
    pipeline_id => { name = job.name, schedule = job.schedule, time_zone = job.time_zone }
  }
}
