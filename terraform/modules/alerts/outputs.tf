output "topic_id" {
  description = "The cost-alerts topic."
  value       = google_pubsub_topic.alerts.id
}

output "dead_letter_topic_id" {
  description = "Where undeliverable alerts land."
  value       = google_pubsub_topic.dead_letter.id
}

output "push_subscription_id" {
  description = "The notifier's push subscription."
  value       = google_pubsub_subscription.push.id
}

output "platform_subscription_id" {
  description = "The platform's pull subscription."
  value       = google_pubsub_subscription.platform.id
}
