"""The demo org of the local stack: OpenAI and Anthropic sandbox credentials and a synthetic GCP billing export."""

from __future__ import annotations


def onboard_demo_org(stack, slug: str = "acmecorp", export_days: tuple | None = None) -> dict:
    """Create the demo org with OpenAI and Anthropic (sandbox) credentials and a GCP credential pointing at a
    synthetic billing export (rewritten for `export_days` = (first, last) usage day, default the last 12 days)
    once; returns {"slug", "api_key"}."""
    from shared.tenancy import onboarding

    settings, keys = stack.settings(), stack.secrets["demo_api_keys"]
    credentials = stack.secrets["demo_credentials"]
    if not onboarding.org_exists(settings, slug):
        keys[slug] = onboarding.create_org(settings, slug, "professional", "ACTIVE")["api_key"]
        credentials.pop(slug, None)
        stack.save_secrets()  # keep the key even if storing the credential below fails
    elif slug not in keys:
        keys[slug] = onboarding.issue_api_key(settings, slug)["api_key"]
        stack.save_secrets()
    if credentials.get(slug) != stack.secrets["sandbox_openai_key"]:
        onboarding.set_credential(settings, slug, "openai", stack.secrets["sandbox_openai_key"], {})
        credentials[slug] = stack.secrets["sandbox_openai_key"]
        stack.save_secrets()
    anthropic_key = stack.secrets["sandbox_anthropic_key"]
    if credentials.get(f"{slug}/anthropic") != anthropic_key:
        onboarding.set_credential(settings, slug, "anthropic", anthropic_key, {})
        credentials[f"{slug}/anthropic"] = anthropic_key
        stack.save_secrets()
    from devstack.providers.gcp.export import onboard_demo_gcp

    onboard_demo_gcp(stack, settings, slug, export_days)
    stack.demo_org = {"slug": slug, "api_key": keys[slug]}
    return stack.demo_org
