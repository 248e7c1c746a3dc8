"""Admin operations behind `dps`: bootstrap the central dataset, onboard orgs, issue keys, store credentials."""
# Interface only for now; implemented in this file next.

def bootstrap(settings) -> list[str]:
    """Create the central dataset and its tables from configs/schemas/organizations (idempotent)."""
    raise NotImplementedError


def org_exists(settings, slug: str) -> bool:
    """True when the org has a profile row."""
    raise NotImplementedError


def create_org(settings, slug: str, plan: str, status: str, org_name: str | None = None) -> dict:
    """Onboard an org; returns {"org_slug", "api_key", "api_key_id", "plan", "status", "dataset"}."""
    raise NotImplementedError


def issue_api_key(settings, slug: str) -> dict:
    """A new API key for an existing org; returns {"org_slug", "api_key", "api_key_id"}."""
    raise NotImplementedError


def set_credential(settings, slug: str, provider: str, secret: str, metadata: dict | None = None) -> dict:
    """Store (replace) the org's credential for a provider, encrypted with KMS."""
    raise NotImplementedError
