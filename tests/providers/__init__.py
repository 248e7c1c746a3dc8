"""The standard provider suite: every registered provider (and a test-only one) against the contract."""
