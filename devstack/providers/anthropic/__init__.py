"""Anthropic's local half: the sandbox Admin usage and cost reports, and a sandbox Admin key for the demo org."""

from __future__ import annotations

from devstack.providers.local import DemoCredential, LocalProvider


def _answer(path, query, headers):
    from devstack.providers.anthropic import sandbox

    return sandbox.answer(path, query, headers)


def _demo_credential(stack, settings, slug: str) -> DemoCredential:
    # Shaped like an Anthropic Admin API key, as the sandbox expects.
    return DemoCredential(stack.secret("sandbox_anthropic_key", prefix="sk-ant-admin01-sandbox-"), {})


LOCAL = LocalProvider(
    name="anthropic",
    function_port=8003,
    sandbox=("/v1/organizations/", _answer),
    demo_credential=_demo_credential,
    demo_pipelines=("anthropic/cost/usage_cost",),
)
