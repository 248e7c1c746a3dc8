# Run requests of one provider: the topic the api publishes to, a push subscription to the provider's function
# (OIDC, retry policy, dead-letter topic) and the dead-letter topic with a subscription that keeps what lands.
locals {
  pubsub_agent = var.pubsub_agent
  labels       = { service = "data-pipeline-service", environment = var.environment, provider = var.provider_name }
}

resource "google_pubsub_topic" "runs" {
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
  topic                      = google_pubsub_topic.runs.id
  ack_deadline_seconds       = 600 # the push limit: Pub/Sub waits this long (>= worker timeout) before redelivering
  message_retention_duration = "604800s"
  labels                     = local.labels

  expiration_policy {
    ttl = "" # never expire: a provider with no runs for 31 days must keep its subscription
  }

  push_config {
    push_endpoint = var.push_endpoint
    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.push_endpoint
    }
  }

  # Sized for saturation: at max instances Cloud Run answers 429 and Pub/Sub counts a delivery attempt. Backoff
  # 30 s doubling to 600 s over 10 attempts spaces them 30+60+120+240+480+600*4 = 3,330 s (55 min) apart in all,
  # so a run request survives ~55 min of saturation or outage before it is dead-lettered, and it is still under
  # the reaper's PENDING limit (3,600 s, shared/runs/reaper.py), which then settles what never got through.
  retry_policy {
    minimum_backoff = "${var.minimum_backoff_seconds}s"
    maximum_backoff = "600s"
  }

  # After this many deliveries a run request goes to the dead-letter topic (the worker fails the run itself
  # after 4 claims, so a message lands here only when the function never settled it).
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# A pull subscription that keeps dead letters for 31 days (the most Pub/Sub keeps) (a topic without a subscription drops them) until the
# api drains them into organizations.org_meta_dead_letters (shared/dead_letters/store.py), acknowledging only stored rows.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.topic_name}-dead-letter-hold"
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60         # long enough to store a pulled batch before acknowledging it
  message_retention_duration = "2678400s" # 31 days: the scheduled drain runs every 15 min, this covers outages
  labels                     = merge(local.labels, { role = "dead-letter" })

  expiration_policy {
    ttl = "" # never expire: dead letters may be rare
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# Dead-lettering needs the Pub/Sub service agent to publish to the DLQ and to acknowledge on the source.
resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_forwards_from_push" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = var.publisher_members
  project  = var.project_id
  topic    = google_pubsub_topic.runs.name
  role     = "roles/pubsub.publisher"
  member   = each.value
}

# Who drains the dead letters (the api function's service account: GET/POST /api/v1/admin/dead-letters).
resource "google_pubsub_subscription_iam_member" "dead_letter_readers" {
  for_each     = var.dead_letter_reader_members
  project      = var.project_id
  subscription = google_pubsub_subscription.dead_letter.name
  role         = "roles/pubsub.subscriber"
  member       = each.value
}
