"""Budgets and anomaly alerts of an org: detection, the exactly-once alert ledger, the signed webhook."""
