"""GCP's local half: a synthetic billing export, and the row-by-row reference transform."""
