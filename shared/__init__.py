"""Shared package of the cost data pipeline service: every function imports from here."""
