"""Anthropic: the Admin API usage (messages) and cost reports → anthropic_usage_daily, anthropic_costs_daily,
their priced estimates (llm_cost_estimates) and the Anthropic rows of cost_focus."""

from __future__ import annotations

from shared.providers.contract import FocusIdentity, HttpApi, Provider
from shared.providers.kit.egress import check_base_url


def _processors():
    from shared.providers.anthropic.steps import PROCESSORS

    return PROCESSORS


PROVIDER = Provider(
    name="anthropic",
    title="Anthropic",
    source=HttpApi(default_base_url="https://api.anthropic.com"),
    focus=FocusIdentity(provider_name="Anthropic"),
    load_processors=_processors,
    check_credential=check_base_url,
    metadata_keys=("base_url",),
    llm_pricing=True,
)
