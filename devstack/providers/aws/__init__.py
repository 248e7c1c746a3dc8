"""AWS's local half: the local S3 (moto) the export lives in, the demo org's synthetic export (seeded on every
onboarding: moto keeps objects in memory), and `dps aws-export`."""

from __future__ import annotations

from devstack.providers.local import DemoCredential, LocalProvider
from devstack.standins.s3 import S3_STANDIN


def _demo_credential(stack, settings, slug: str) -> DemoCredential:
    from devstack.providers.aws.demo import seed_demo_export

    return DemoCredential("", seed_demo_export(settings))  # keyless: no secret is stored


def _cli(sub) -> None:
    from devstack.providers.aws.cli import add_commands

    add_commands(sub)


LOCAL = LocalProvider(
    name="aws",
    function_port=8005,
    demo_credential=_demo_credential,
    demo_pipelines=("aws/cost/billing",),
    cli=_cli,
    standins=(S3_STANDIN,),
)
