"""Every provider, by name: one explicit mapping. Importing it loads their declarations only (each provider's step
code is imported when one of its runs needs it). Deployed functions import their own provider, not this."""

from __future__ import annotations

from shared.providers import anthropic, aws, azure, gcp, openai, saas
from shared.providers.contract import Processor, Provider

PROVIDERS: dict[str, Provider] = {
    provider.name: provider
    for provider in (
        openai.PROVIDER,
        anthropic.PROVIDER,
        gcp.PROVIDER,
        aws.PROVIDER,
        azure.PROVIDER,
        saas.PROVIDER,
    )
}


def get_provider(name: str) -> Provider:
    """The provider called `name`; KeyError listing the known ones otherwise."""
    if name not in PROVIDERS:
        raise KeyError(f"no provider {name!r}; known: {', '.join(PROVIDERS)}")
    return PROVIDERS[name]


def get_processor(ps_type: str) -> Processor:
    """The processor of a step type ("<provider>.<step>"), whichever provider declares it."""
    return get_provider(ps_type.split(".", 1)[0]).processor(ps_type)
