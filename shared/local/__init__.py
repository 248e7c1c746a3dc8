"""Local stand-ins for Google Cloud services (BigQuery, Pub/Sub, KMS) and the supervisor that runs them."""
