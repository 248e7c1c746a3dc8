"""Anthropic's step types (`ps_type` in configs/pipelines/anthropic/): what each extracts, transforms or runs."""

from __future__ import annotations

from shared.pricing.estimates import estimate_processor
from shared.pricing.price_table import load_prices_processor
from shared.providers.anthropic.estimate import SOURCES
from shared.providers.anthropic.extract import extract_cost_report, extract_usage_messages
from shared.providers.anthropic.focus import build_anthropic_focus
from shared.providers.anthropic.transform import transform_costs, transform_usage
from shared.providers.contract import Processor

PROCESSORS: dict[str, Processor] = {
    "anthropic.usage_messages": Processor(extract=extract_usage_messages, transform=transform_usage),
    "anthropic.cost_report": Processor(extract=extract_cost_report, transform=transform_costs),
    "anthropic.prices": Processor(run=load_prices_processor("anthropic")),
    "anthropic.estimate": Processor(run=estimate_processor(SOURCES)),
    "anthropic.focus": Processor(run=build_anthropic_focus),
}
