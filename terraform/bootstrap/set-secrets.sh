#!/usr/bin/env bash
# Add a new version to each of the environment's secrets (dps-<env>-root-api-key, dps-<env>-api-key-pepper) with
# a fresh random value, and print the version numbers to pin in terraform/envs/<env>/main.tf (secret_versions).
# Values go from openssl straight to Secret Manager: never to a file, the terminal, or Terraform state.
#   terraform/bootstrap/set-secrets.sh <project> <stage|prod> [root-api-key|api-key-pepper ...]
# The pepper keys every stored API key hash: a new pepper invalidates every org's keys. Add one only on a new
# environment or when you mean to reissue every key; by default both are set only if they have no version yet.
set -euo pipefail
project=${1:?project id}
env=${2:?stage or prod}
shift 2
case "$env" in stage|prod) ;; *) echo "environment must be stage or prod" >&2; exit 2 ;; esac
names=("$@")
force=1
if [ ${#names[@]} -eq 0 ]; then names=(root-api-key api-key-pepper); force=0; fi
for name in "${names[@]}"; do
  secret="dps-${env}-${name}"
  existing=$(gcloud secrets versions list "$secret" --project "$project" --filter=state=ENABLED --format='value(name)' | head -1)
  if [ -n "$existing" ] && [ "$force" = 0 ]; then
    echo "$secret: keeps enabled version $existing (name it explicitly to add another)"
    continue
  fi
  openssl rand -base64 48 | tr -d '\n' |
    gcloud secrets versions add "$secret" --project "$project" --data-file=- --format='value(name)' >/dev/null
  latest=$(gcloud secrets versions list "$secret" --project "$project" --sort-by=~createTime --limit=1 --format='value(name)')
  echo "$secret: version ${latest##*/} added"
done
echo "Pin these numbers: secret_versions in terraform/envs/${env}/main.tf, then apply."
