"""OpenAI in the standard suite: recorded Usage (completions and every other endpoint), Costs and Projects pages of
four days (2024-11-01..04; the recordings carry a bucket before the range too), and the rows the whole pipeline
writes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from shared.providers.openai import PROVIDER
from shared.providers.openai import constants as api
from tests.providers.case import ProviderCase

CASE = ProviderCase(
    provider=PROVIDER,
    folder=Path(__file__).parent,
    pipeline_id="openai/cost/usage_cost",
    start=date(2024, 11, 1),
    end=date(2024, 11, 4),
    secret="sk-admin-suite-0123456789abcdef",
    pages={
        api.USAGE_COMPLETIONS_PATH: ["usage_page_1.json", "usage_page_2.json", "usage_page_3.json"],
        api.COSTS_PATH: ["costs_page_1.json", "costs_page_2.json"],
        api.PROJECTS_PATH: ["projects_page_1.json"],
        **{api.OTHER_USAGE_PREFIX + e: [f"other_{e}_page_1.json"] for e in api.OTHER_USAGE},
    },
    invalid_credentials=(
        ("", {}, "secret is empty"),
        ("sk-admin-x", {"base_url": "http://169.254.169.254"}, "base_url rejected"),
        ("sk-admin-x", {"base_ur1": "https://api.openai.com"}, "metadata keys ['base_ur1']"),
    ),
)
