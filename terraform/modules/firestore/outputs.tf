output "database_name" {
  description = "Database id the functions use (FIRESTORE_DATABASE): \"(default)\"."
  value       = google_firestore_database.default.name
}

output "database_id" {
  description = "projects/P/databases/(default)."
  value       = google_firestore_database.default.id
}

output "ttl_collection_groups" {
  description = "Collection groups with a TTL policy on expire_at."
  value       = sort(tolist(local.ttl_collection_groups))
}
