"""Microsoft Azure: the org's Cost Management FOCUS export in its Blob Storage → azure_cost_export and cost_focus,
a billing month reloaded whole when its newest complete export run changed."""

from __future__ import annotations

from shared.providers.azure import constants as az
from shared.providers.azure.credentials import check_credential
from shared.providers.contract import FocusIdentity, ObjectStorage, Provider


def _processors():
    from shared.providers.azure.steps import PROCESSORS

    return PROCESSORS


def _load_window(start, end):
    from shared.providers.azure.window import load_window

    return load_window(start, end)


PROVIDER = Provider(
    name="azure",
    title="Microsoft Azure",
    source=ObjectStorage(metadata_keys=az.METADATA_KEYS),
    focus=FocusIdentity(provider_name=az.PROVIDER_NAME),  # Marketplace rows name their own publisher
    load_processors=_processors,
    check_credential=check_credential,
    needs_secret=False,  # workload identity federation: the function's Google identity, no Azure secret
    metadata_keys=az.METADATA_KEYS,
    load_window=_load_window,
)
