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
  description = "Members allowed to publish run requests (the api function's service account)."
  type        = list(string)
  default     = []
}

variable "dead_letter_reader_members" {
  description = "Members allowed to pull and acknowledge dead letters (the api function's service account)."
  type        = list(string)
  default     = []
}
