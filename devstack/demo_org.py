"""The demo org of the local stack: onboarded once, with every provider's demo credential (its local half seeds
the source the credential names: a sandbox key, a synthetic billing export)."""

from __future__ import annotations

import hashlib
import json


def onboard_demo_org(stack, slug: str = "acmecorp", plan: str = "professional") -> dict:
    """Create the demo org (once, on `plan`) and store each provider's demo credential when it changed;
    {"slug", "api_key"}."""
    from devstack.providers import LOCAL_PROVIDERS
    from shared.tenancy import onboarding

    settings, keys = stack.settings(), stack.secrets["demo_api_keys"]
    stored = stack.secrets["demo_credentials"]
    if not onboarding.org_exists(settings, slug):
        keys[slug] = onboarding.create_org(settings, slug, plan, "ACTIVE")["api_key"]
        stored.clear()
        stack.save_secrets()  # keep the key even if storing a credential below fails
    elif slug not in keys:
        keys[slug] = onboarding.issue_api_key(settings, slug)["api_key"]
        stack.save_secrets()
    for name, local in LOCAL_PROVIDERS.items():
        credential = local.demo_credential(stack, settings, slug)
        if credential is None:  # the provider's source is seeded and it stores no credential
            continue
        # Only a digest is kept: secrets.json must not hold a second copy of every credential.
        digest = hashlib.sha256(json.dumps([credential.secret, credential.metadata]).encode()).hexdigest()
        if stored.get(f"{slug}/{name}") != digest:
            onboarding.set_credential(settings, slug, name, credential.secret, credential.metadata)
            stored[f"{slug}/{name}"] = digest
            stack.save_secrets()
    stack.demo_org = {"slug": slug, "api_key": keys[slug]}
    return stack.demo_org
