variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}

variable "environment" {
  description = "stage or prod."
  type        = string
}

variable "provider_name" {
  description = "Provider whose runs this topic carries (openai, gcp, anthropic)."
  type        = string
}

variable "topic_name" {
  description = "Topic id: {PIPELINE_TOPIC_PREFIX}-{provider}."
  type        = string
}

variable "push_endpoint" {
  description = "URL of the provider's function."
  type        = string
}

variable "push_service_account_email" {
  description = "Identity Pub/Sub signs push requests as (needs run.invoker on the function)."
  type        = string
}

variable "publisher_members" {
  description = "Static name => member allowed to publish run requests ({api = \"serviceAccount:...\"}): for_each keys known at plan."
  type        = map(string)
  default     = {}
}

variable "dead_letter_reader_members" {
  description = "Static name => member allowed to pull and acknowledge dead letters (the api's service account)."
  type        = map(string)
  default     = {}
}

variable "pubsub_agent" {
  description = "serviceAccount:service-<project number>@gcp-sa-pubsub.iam.gserviceaccount.com (dead-lettering IAM)."
  type        = string
}

variable "max_delivery_attempts" {
  description = "Deliveries before a run request is dead-lettered (5..100); with the backoff, how long saturation is survived."
  type        = number
  default     = 10
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub allows 5..100 delivery attempts."
  }
}

variable "minimum_backoff_seconds" {
  description = "First redelivery delay (doubling up to 600 s)."
  type        = number
  default     = 30
}
