terraform {
  required_version = ">= 1.9"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "6.49.3" # exact; .terraform.lock.hcl pins the checksums (README: Provider version)
    }
  }
  # State in a bucket per environment: terraform init -backend-config="bucket=<project>-tfstate"
  backend "gcs" {
    prefix = "data-pipeline-service/stage"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
