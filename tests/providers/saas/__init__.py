"""The SaaS subscriptions provider's case: recorded plans (as the store holds them, version history included)
seeded into a Firestore emulator the suite starts for the case, priced over four days that hold a monthly
anniversary, a mid-cycle seat increase, an annual plan's invoice day and a EUR plan bought through a reseller."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from devstack.standins.firestore import firestore_source_standin
from shared.providers.saas import PROVIDER
from tests.providers.case import ProviderCase

FOLDER = Path(__file__).parent
ORG = "golden_saas"  # the case's golden org (tests.providers.case.golden_slug)


def seed_plans(warehouse, metadata: dict, settings) -> None:
    """Write the recorded plans into the Firestore the settings point at, under the golden org (replacing any)."""
    from shared.platform.clients import make_firestore_client

    db = make_firestore_client(settings)
    collection = db.collection("orgs").document(ORG).collection(PROVIDER.source.collection)
    for plan in json.loads((FOLDER / "pages" / "plans.json").read_text()):
        collection.document(plan["subscription_id"]).set(plan)


CASE = ProviderCase(
    provider=PROVIDER,
    folder=FOLDER,
    pipeline_id="saas/cost/subscriptions",
    start=date(2025, 11, 14),
    end=date(2025, 11, 17),
    secret="",  # no credential: the plans are the org's own records
    seed_source=seed_plans,
    standins=(firestore_source_standin(),),
    invalid_credentials=(
        ("", {}, "needs no credential"),
        ("any-secret", {}, "needs no credential"),
    ),
    validator_false_positives={
        # As for the test-only SeatBill: FOCUS makes EffectiveCost 0 on a Purchase "intended to cover future
        # eligible charges" (a commitment). Seats are bought for themselves, so each day carries its share of the
        # cycle's price; the validator checks the rule on every Purchase row.
        "EffectiveCost-C-005-C": "seats are bought for themselves, not to cover future usage charges",
    },
)
