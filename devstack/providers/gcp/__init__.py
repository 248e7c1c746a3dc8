"""GCP's local half: a synthetic billing export in the local BigQuery (the demo org's source), `dps gcp-export`,
and the row-by-row reference transform tests and benchmarks compare against."""

from __future__ import annotations

from devstack.providers.local import DemoCredential, LocalProvider


def _demo_credential(stack, settings, slug: str) -> DemoCredential:
    from devstack.providers.gcp.export import demo_credential

    return demo_credential(stack, settings)


def _cli(sub) -> None:
    from devstack.providers.gcp.cli import add_commands

    add_commands(sub)


LOCAL = LocalProvider(
    name="gcp",
    function_port=8004,
    demo_credential=_demo_credential,
    demo_pipelines=("gcp/cost/billing",),
    cli=_cli,
)
