"""OpenAI's step types (`ps_type` in configs/pipelines/openai/): what each extracts, transforms or runs."""

from __future__ import annotations

from shared.pricing.estimates import estimate_processor
from shared.pricing.price_table import load_prices_processor
from shared.providers.contract import Processor
from shared.providers.openai.estimate import SOURCES
from shared.providers.openai.extract import extract_costs, extract_usage_completions, extract_usage_other
from shared.providers.openai.focus import build_openai_focus
from shared.providers.openai.transform import transform_costs, transform_usage
from shared.providers.openai.transform_other import transform_usage_other

PROCESSORS: dict[str, Processor] = {
    "openai.usage_completions": Processor(extract=extract_usage_completions, transform=transform_usage),
    "openai.usage_other": Processor(extract=extract_usage_other, transform=transform_usage_other),
    "openai.costs": Processor(extract=extract_costs, transform=transform_costs),
    "openai.prices": Processor(run=load_prices_processor("openai")),
    "openai.estimate": Processor(run=estimate_processor(SOURCES)),
    "openai.focus": Processor(run=build_openai_focus),
}
