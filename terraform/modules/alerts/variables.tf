variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}

variable "environment" {
  description = "stage or prod."
  type        = string
}

variable "topic_name" {
  description = "Topic id the workers publish alerts to (shared/alerts/ledger.py TOPIC)."
  type        = string
  default     = "cost-alerts"
}

variable "push_endpoint" {
  description = "URL of the notifier function."
  type        = string
}

variable "push_service_account_email" {
  description = "Identity Pub/Sub signs push requests as (needs run.invoker on the notifier)."
  type        = string
}

variable "publisher_members" {
  description = "Static name => member allowed to publish alerts (the provider functions' service accounts)."
  type        = map(string)
  default     = {}
}

variable "pubsub_agent" {
  description = "serviceAccount:service-<project number>@gcp-sa-pubsub.iam.gserviceaccount.com (dead-lettering IAM)."
  type        = string
}

variable "max_delivery_attempts" {
  description = "Deliveries of an alert before it is dead-lettered (5..100)."
  type        = number
  default     = 10
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub allows 5..100 delivery attempts."
  }
}
