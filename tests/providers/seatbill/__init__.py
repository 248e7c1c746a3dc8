"""SeatBill: a provider that exists only in the tests (a SaaS seat-billing report API), to show that the provider
contract is all a new source needs. Everything it is lives in this folder: its declaration (here), its steps
(steps.py), its pipeline and table schema (configs/, laid over the project's), its recorded pages and golden rows.
It is registered for the standard suite by one line in tests/providers/registry.py; no shared module knows it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from shared.providers.contract import FocusIdentity, HttpApi, Provider
from shared.providers.kit.egress import check_base_url
from tests.providers.case import ProviderCase


def _processors():
    from tests.providers.seatbill.steps import PROCESSORS

    return PROCESSORS


PROVIDER = Provider(
    name="seatbill",
    title="SeatBill",
    source=HttpApi(default_base_url="https://api.seatbill.example"),
    focus=FocusIdentity(
        provider_name="SeatBill", service_categories={"SeatBill Seats": "Business Applications"}
    ),
    load_processors=_processors,
    check_credential=check_base_url,
    metadata_keys=("base_url",),
)

CASE = ProviderCase(
    provider=PROVIDER,
    folder=Path(__file__).parent,
    pipeline_id="seatbill/cost/seats",
    start=date(2025, 11, 3),
    end=date(2025, 11, 4),
    secret="sbk_live_suite_0123456789abcdef",
    validator_false_positives={
        # FOCUS: EffectiveCost is 0 on a Purchase "intended to cover future eligible charges" (a commitment, whose
        # cost the covered usage carries). Seats are the service itself, not a prepayment for other charges, so
        # their EffectiveCost is what they cost; the validator checks the rule on every Purchase row.
        "EffectiveCost-C-005-C": "seats are bought for themselves, not to cover future usage charges",
    },
    pages={"/v2/reports/seat_charges": ["charges_page_1.json", "charges_page_2.json"]},
    invalid_credentials=(
        ("", {}, "secret is empty"),
        ("sbk_x", {"base_url": "ftp://x"}, "base_url rejected"),
    ),
)
