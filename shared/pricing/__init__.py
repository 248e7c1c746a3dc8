"""LLM pricing: the reviewed price table, per-org overrides, estimated cost and its reconciliation with the bill."""
