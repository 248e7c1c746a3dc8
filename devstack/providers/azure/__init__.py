"""Azure's local half: Azurite as its Blob Storage, the demo org's synthetic Cost Management export seeded in it,
and `dps azure-export`."""

from __future__ import annotations

from devstack.providers.local import DemoCredential, LocalProvider
from devstack.standins.azurite import AZURITE_STANDIN


def _demo_credential(stack, settings, slug: str) -> DemoCredential:
    from devstack.providers.azure.demo import demo_credential

    return demo_credential(stack, settings)


def _cli(sub) -> None:
    from devstack.providers.azure.cli import add_commands

    add_commands(sub)


LOCAL = LocalProvider(
    name="azure",
    function_port=8006,
    demo_credential=_demo_credential,
    demo_pipelines=("azure/cost/billing",),
    cli=_cli,
    standins=(AZURITE_STANDIN,),
)
