# Budget and anomaly alerts: the cost-alerts topic the workers publish each alert to once (shared/alerts/ledger.py),
# a push subscription to the notifier function (OIDC, retry with backoff, dead letter), a pull subscription for
# the platform's own consumers, and the dead-letter topic with a subscription that keeps what lands.
locals {
  labels = { service = "data-pipeline-service", environment = var.environment, component = "alerts" }
}

resource "google_pubsub_topic" "alerts" {
  project = var.project_id
  name    = var.topic_name
  labels  = local.labels
}

resource "google_pubsub_topic" "dead_letter" {
  project = var.project_id
  name    = "${var.topic_name}-dead-letter"
  labels  = local.labels
}

resource "google_pubsub_subscription" "push" {
  project                    = var.project_id
  name                       = "${var.topic_name}-push"
  topic                      = google_pubsub_topic.alerts.id
  ack_deadline_seconds       = 600 # as every push subscription (the push timeout); a webhook call is bounded at 10 s
  message_retention_duration = "604800s"
  labels                     = local.labels

  expiration_policy {
    ttl = "" # never expire: an environment may go weeks without an alert
  }

  push_config {
    push_endpoint = var.push_endpoint
    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.push_endpoint
    }
  }

  # A failing webhook is retried 10 s doubling to 600 s; after max_delivery_attempts the alert is dead-lettered
  # (it is still in the org's alerts table: the webhook is a notification, not the record).
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# The platform's own consumers (e-mail, chat) pull here; unconsumed alerts are kept 7 days.
resource "google_pubsub_subscription" "platform" {
  project                    = var.project_id
  name                       = "${var.topic_name}-platform"
  topic                      = google_pubsub_topic.alerts.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  labels                     = local.labels

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.topic_name}-dead-letter-hold"
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "2678400s" # 31 days, the most Pub/Sub keeps
  labels                     = merge(local.labels, { role = "dead-letter" })

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# Dead-lettering needs the Pub/Sub service agent to publish to the DLQ and to acknowledge on the sources.
resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = var.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_forwards_from_push" {
  for_each     = { push = google_pubsub_subscription.push.name, platform = google_pubsub_subscription.platform.name }
  project      = var.project_id
  subscription = each.value
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_agent
}

# The provider functions publish the alerts of their loads.
resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = var.publisher_members
  project  = var.project_id
  topic    = google_pubsub_topic.alerts.name
  role     = "roles/pubsub.publisher"
  member   = each.value
}
