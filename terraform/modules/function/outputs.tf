output "service_account_email" {
  description = "The function's own service account."
  value       = google_service_account.function.email
}

output "url" {
  description = "HTTPS URL of the function."
  value       = google_cloudfunctions2_function.function.service_config[0].uri
}

output "service_name" {
  description = "Cloud Run service behind the function (for run.invoker grants)."
  value       = google_cloudfunctions2_function.function.service_config[0].service
}

output "entry_point" {
  description = "Entry point deployed."
  value       = var.entry_point
}
