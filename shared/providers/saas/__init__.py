"""SaaS subscriptions: plans the org enters through the API (`/api/v1/subscriptions/{org}/saas`, `dps saas`),
kept with their version history in Firestore (plans.py), priced per day (charges.py) → saas_subscriptions_daily
and cost_focus rows whose ProviderName is each plan's vendor. Reads nothing of the customer's: no credential."""

from __future__ import annotations

from shared.providers.contract import EnteredRecords, FocusIdentity, Provider


def _processors():
    from shared.providers.saas.steps import PROCESSORS

    return PROCESSORS


PROVIDER = Provider(
    name="saas",
    title="SaaS subscriptions",
    source=EnteredRecords(collection="saas_subscriptions"),
    # ProviderName, PublisherName and InvoiceIssuerName are each plan's (vendor, or its reseller): FOCUS names the
    # entity that makes the service available. "SaaS" keys the products' categories in service_categories.yml.
    focus=FocusIdentity(provider_name="SaaS", names_per_row=True),
    load_processors=_processors,
    needs_secret=False,
    needs_credential=False,
)
