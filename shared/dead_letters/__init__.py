"""Run requests Pub/Sub gave up on: drained into a table, listed, and replayed."""
