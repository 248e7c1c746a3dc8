"""SaaS subscriptions' local half: the demo org's plans (a monthly plan with a seat increase in the demo week, an
annual plan, a EUR plan through a reseller), written to the local Firestore; no credential, no stand-in of its own
(the stack already runs Firestore)."""

from __future__ import annotations

from devstack.providers.local import LocalProvider


def _demo_plans(stack, settings, slug: str) -> None:
    from devstack.providers.saas.demo import seed_demo_plans

    seed_demo_plans(settings, slug)  # the provider stores no credential: nothing to return


LOCAL = LocalProvider(
    name="saas",
    function_port=8007,
    demo_credential=_demo_plans,
    demo_pipelines=("saas/cost/subscriptions",),
)
