output "state_bucket" {
  description = "terraform init -backend-config=bucket=<this> (both roots of the project)."
  value       = google_storage_bucket.tfstate.name
}

output "deployer" {
  description = "Cloud Build's serviceAccount (cloudbuild.yaml): projects/<project>/serviceAccounts/<this>."
  value       = google_service_account.deployer.email
}

output "identities" {
  description = "name => email of every identity the environment uses (api, providers, pusher, scheduler, tasks, builder)."
  value       = { for name, account in google_service_account.identity : name => account.email }
}

output "secret_ids" {
  description = "Secrets set-secrets.sh adds versions to; the environment pins their version numbers."
  value       = { for role, secret in google_secret_manager_secret.secret : role => secret.secret_id }
}
