# Run once per project by an owner, with local state; then move the state into the bucket it created (README.md).
terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source = "hashicorp/google"
      # Pinned like the environments (see terraform/README.md, "Provider version").
      version = "6.49.3"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
