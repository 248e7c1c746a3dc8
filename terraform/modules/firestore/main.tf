# The control plane's mutable state: one Firestore database in Native mode, the composite indexes the
# application queries, and TTL policies that garbage-collect finished documents (BigQuery keeps the run history).
# Document layout (different orgs never touch the same document):
#   orgs/{org}                                  quota state: running, daily and monthly counters
#   orgs/{org}/rate/{shard}                     per-minute rate shards
#   orgs/{org}/runs/{run_id}                    run documents
#   orgs/{org}/runs/{run_id}/slices/{slice_id}  fan-out slices of a run
#   orgs/{org}/inflight/{fingerprint}           duplicate index of in-flight requests
#   orgs/{org}/scheduled/{key}                  scheduled-run markers
#   dead_letters/{message_id}                   dead-lettered deliveries
#   api_keys/{key_hash}                         serving index of API keys (no TTL: keys do not expire by time
#                                               here; onboarding's `where org_slug ==` uses the automatic
#                                               single-field index, so nothing is declared for it)
locals {
  # Each collection group whose documents set `expire_at` when they may go: terminal runs and their slices after
  # 30 days, in-flight and scheduled markers after 35 days, rate shards after 2 minutes, dead letters after 90 days.
  ttl_collection_groups = toset(["runs", "slices", "scheduled", "rate", "dead_letters", "inflight"])

  # Composite indexes, exactly the queries the application runs. Keys are static names (for_each).
  composite_indexes = {
    # The reaper: in-flight runs of every org not updated since a cutoff (status == X and updated_at < cutoff).
    runs_status_updated_at = {
      collection  = "runs"
      query_scope = "COLLECTION_GROUP"
      fields      = [["status", "ASCENDING"], ["updated_at", "ASCENDING"]]
    }
    # Listing dead letters, newest first, filtered by provider, by org, or by both.
    dead_letters_provider = {
      collection  = "dead_letters"
      query_scope = "COLLECTION"
      fields      = [["provider", "ASCENDING"], ["dead_lettered_at", "DESCENDING"]]
    }
    dead_letters_org = {
      collection  = "dead_letters"
      query_scope = "COLLECTION"
      fields      = [["org_slug", "ASCENDING"], ["dead_lettered_at", "DESCENDING"]]
    }
    dead_letters_provider_org = {
      collection  = "dead_letters"
      query_scope = "COLLECTION"
      fields      = [["provider", "ASCENDING"], ["org_slug", "ASCENDING"], ["dead_lettered_at", "DESCENDING"]]
    }
  }
}

resource "google_firestore_database" "default" {
  project     = var.project_id
  name        = "(default)"
  location_id = var.location_id
  type        = "FIRESTORE_NATIVE"
  # Pessimistic (the Native-mode default, stated so a plan never drifts to optimistic): the server client
  # libraries, google-cloud-firestore for Python included, run read-write transactions on the server with
  # locks, so transactions contending for one org's documents wait for each other instead of failing at commit.
  concurrency_mode = "PESSIMISTIC"
  # PITR keeps 7 days of versions readable (1 hour without it): a bad deploy's writes can be read around.
  point_in_time_recovery_enablement = var.point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = var.delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # ABANDON: `terraform destroy` forgets the database but never deletes the control state.
  deletion_policy = var.deletion_policy

  # The API is enabled centrally (modules/platform); creating the database before it is enabled fails.
  depends_on = [var.firestore_api_id]
}

resource "google_firestore_index" "composite" {
  for_each    = local.composite_indexes
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = each.value.collection
  query_scope = each.value.query_scope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }
}

# TTL policies on `expire_at`. TTL is garbage collection, not a correctness mechanism: Firestore deletes expired
# documents typically within a day (up to 72 hours) of expire_at, so readers still compare expire_at with now.
# Deleting a run does not delete its slices subcollection; slices carry their own expire_at.
resource "google_firestore_field" "ttl" {
  for_each   = local.ttl_collection_groups
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = each.value
  field      = "expire_at"

  ttl_config {}

  # No single-field index on expire_at (an empty index_config disables it): nothing queries it, and Firestore's
  # TTL best practice (https://cloud.google.com/firestore/docs/ttl) is to exempt a TTL field from indexing when
  # its timestamps increase monotonically, as these do (now + a fixed period): such an index is a write hotspot,
  # limited to ~500 writes/s (https://cloud.google.com/firestore/docs/solutions/shard-timestamp).
  index_config {}
}

# The reaper finds, across every org, the runs whose history an outage held back (history_behind == true):
# an equality filter on a collection group needs a single-field index at COLLECTION_GROUP scope, which Firestore
# does not create by itself (it indexes single fields per collection only).
resource "google_firestore_field" "runs_history_behind" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "runs"
  field      = "history_behind"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}
