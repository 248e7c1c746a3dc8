"""OpenAI provider: organization Usage (completions) and Costs APIs → openai_usage_daily, openai_costs_daily,
and from those the OpenAI rows of cost_focus."""

from __future__ import annotations

from shared.providers.base import Processor
from shared.providers.openai.extract import extract_costs, extract_usage_completions
from shared.providers.openai.focus import build_openai_focus
from shared.providers.openai.transform import transform_costs, transform_usage

PROCESSORS: dict[str, Processor] = {
    "openai.usage_completions": Processor(extract=extract_usage_completions, transform=transform_usage),
    "openai.costs": Processor(extract=extract_costs, transform=transform_costs),
    "openai.focus": Processor(run=build_openai_focus),
}
