"""OpenAI: the organization Usage (completions and every other endpoint) and Costs APIs → openai_usage_daily,
openai_usage_other_daily, openai_costs_daily, their priced estimates and the OpenAI rows of cost_focus."""

from __future__ import annotations

from shared.providers.contract import FocusIdentity, HttpApi, Provider
from shared.providers.kit.egress import check_base_url


def _processors():
    from shared.providers.openai.steps import PROCESSORS

    return PROCESSORS


PROVIDER = Provider(
    name="openai",
    title="OpenAI",
    source=HttpApi(default_base_url="https://api.openai.com"),
    focus=FocusIdentity(provider_name="OpenAI"),
    load_processors=_processors,
    check_credential=check_base_url,
    metadata_keys=("base_url",),
    llm_pricing=True,
)
