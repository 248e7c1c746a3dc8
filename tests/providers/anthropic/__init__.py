"""Anthropic in the standard suite: recorded usage (messages) and cost report pages of two days (2025-11-03..04)
with both cache TTLs, the default workspace, Console usage and web search, the workspace names (Workspaces API),
and the rows the pipeline writes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from shared.providers.anthropic import PROVIDER
from shared.providers.anthropic import constants as api
from shared.providers.anthropic.workspaces import WORKSPACES_PATH
from tests.providers.case import ProviderCase

CASE = ProviderCase(
    provider=PROVIDER,
    folder=Path(__file__).parent,
    pipeline_id="anthropic/cost/usage_cost",
    start=date(2025, 11, 3),
    end=date(2025, 11, 4),
    secret="sk-ant-admin01-suite-0123456789abcdef",
    pages={
        api.USAGE_MESSAGES_PATH: ["usage_page_1.json", "usage_page_2.json"],
        api.COST_REPORT_PATH: ["costs_page_1.json", "costs_page_2.json"],
        WORKSPACES_PATH: ["workspaces_page_1.json"],  # the workspace names the cost step reads
    },
    invalid_credentials=(
        ("  ", {}, "secret is empty"),
        ("sk-ant-admin01-x", {"base_url": "https://api.openai.com"}, "base_url rejected"),
    ),
    # Known gap, left open by issue 15: code execution is billed with no quantity in any documented report, so its
    # Usage row has neither PricingQuantity nor ConsumedQuantity.
    focus_gaps={
        "PricingQuantity must not be null for Usage/Purchase that is not a Correction": 1,
        "ConsumedQuantity must not be null for Usage that is not a Correction": 1,
    },
)
