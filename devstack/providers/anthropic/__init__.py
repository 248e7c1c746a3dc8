"""Anthropic's local half: the sandbox Admin usage and cost reports."""
