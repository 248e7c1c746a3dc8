output "topic_id" {
  description = "The run request topic."
  value       = google_pubsub_topic.runs.id
}

output "dead_letter_topic_id" {
  description = "Where undeliverable run requests land."
  value       = google_pubsub_topic.dead_letter.id
}

output "subscription_id" {
  description = "The push subscription."
  value       = google_pubsub_subscription.push.id
}

output "dead_letter_subscription_id" {
  description = "The pull subscription holding dead letters until the api drains them."
  value       = google_pubsub_subscription.dead_letter.id
}
