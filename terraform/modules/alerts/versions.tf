terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.24.0, < 7.0.0" # 6.22-6.23 break secret_environment_variables
    }
  }
}
