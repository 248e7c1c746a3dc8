output "api_ids" {
  description = "service => id of its google_project_service, for a resource that must wait for one API."
  value       = { for service, api in google_project_service.api : service => api.id }
}

output "services" {
  description = "The enabled services."
  value       = sort(tolist(local.apis))
}
