output "service_account_email" {
  description = "The function's runtime identity."
  value       = var.service_account_email
}

output "url" {
  description = "HTTPS URL of the function (its Cloud Run service's run.app URL)."
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
