"""Local stand-ins of Google services: BigQuery, Pub/Sub, Cloud KMS, Cloud Tasks."""
