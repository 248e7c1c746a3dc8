# No provider: this module only reads configs/, so tests can evaluate it offline (`terraform apply` of outputs).
terraform {
  required_version = ">= 1.5"
}
