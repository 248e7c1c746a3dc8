"""OpenAI's local half: the sandbox Usage and Costs API, a sandbox admin key for the demo org, the demo's
per-model cost table."""

from __future__ import annotations

from devstack.providers.local import DemoCredential, LocalProvider


def _answer(path, query, headers):
    from devstack.providers.openai import sandbox

    return sandbox.answer(path, query, headers)


def _demo_credential(stack, settings, slug: str) -> DemoCredential:
    # Shaped like an OpenAI admin key, as the sandbox expects.
    return DemoCredential(stack.secret("sandbox_openai_key", prefix="sk-admin-sandbox-"), {})


def _demo_report(settings, slug: str, start, end) -> None:
    from devstack.providers.openai.report import cost_table, print_cost_table

    print_cost_table(cost_table(settings, slug, start, end))


LOCAL = LocalProvider(
    name="openai",
    function_port=8002,
    sandbox=("/v1/organization/", _answer),
    demo_credential=_demo_credential,
    demo_pipelines=("openai/cost/usage_cost",),
    demo_report=_demo_report,
)
