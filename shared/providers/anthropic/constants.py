"""Anthropic Admin API usage and cost reports: endpoints, headers, page sizes and groupings (constants, no I/O)."""

from __future__ import annotations

USAGE_MESSAGES_PATH = "/v1/organizations/usage_report/messages"
COST_REPORT_PATH = "/v1/organizations/cost_report"
API_VERSION = "2023-06-01"

# The API's page-size ceiling for daily buckets: 90 days cost three pages per endpoint, no more.
USAGE_PAGE_LIMIT = 31
COSTS_PAGE_LIMIT = 31

# Every dimension the tables keep; the cost report's description is what carries model, token type and tier.
# inference_geo (global | us | not_available) is filled only when grouped by; the cost report groups by it too.
USAGE_GROUP_BY = ("model", "workspace_id", "api_key_id", "service_tier", "context_window", "inference_geo")
COSTS_GROUP_BY = ("workspace_id", "description", "inference_geo")

# Labels for the nulls the API gives on purpose (kept, never dropped).
DEFAULT_WORKSPACE = "default"
CONSOLE_API_KEY = "console"
