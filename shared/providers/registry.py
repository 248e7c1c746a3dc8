"""The provider registry: one explicit mapping, declared as data, imported lazily (no import-time side effects)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from shared.providers.contract import Processor


@dataclass(frozen=True)
class ProviderSpec:
    """A provider: its name, the module that holds its processors, the tables it owns."""

    name: str
    module: str  # exposes PROCESSORS: dict[ps_type, Processor]
    tables: tuple[str, ...]


PROVIDERS: dict[str, ProviderSpec] = {
    "openai": ProviderSpec(
        name="openai",
        module="shared.providers.openai",
        tables=(
            "openai_usage_daily",
            "openai_usage_other_daily",
            "openai_costs_daily",
            "llm_prices",
            "llm_cost_estimates",
            "cost_focus",
        ),
    ),
    "anthropic": ProviderSpec(
        name="anthropic",
        module="shared.providers.anthropic",
        tables=(
            "anthropic_usage_daily",
            "anthropic_costs_daily",
            "llm_prices",
            "llm_cost_estimates",
            "cost_focus",
        ),
    ),
    "gcp": ProviderSpec(
        name="gcp",
        module="shared.providers.gcp",
        tables=("gcp_billing_daily", "gcp_billing_load_state", "cost_focus"),
    ),
}


def get_processor(ps_type: str) -> Processor:
    """The processor registered for `ps_type` ("<provider>.<name>"); KeyError if there is none."""
    provider = ps_type.split(".", 1)[0]
    spec = PROVIDERS[provider]
    processors = importlib.import_module(spec.module).PROCESSORS
    return processors[ps_type]
