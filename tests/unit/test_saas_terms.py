"""SaaS plan validation and versioning (pure): what a plan may say, what a change may touch, how a version is
appended."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.platform.errors import ApiError
from shared.providers.saas.charges import cycle_of
from shared.saas.plans import new_document, next_version
from shared.saas.terms import PlanInvalid, apply_change, minor_unit, validate_terms

PLAN = {
    "vendor": "Slack",
    "product": "Slack",
    "plan": "Pro",
    "seats": 3,
    "unit_price": "8.75",
    "currency": "USD",
    "billing_cycle": "monthly",
    "start_date": "2025-01-31",
}
NOW = datetime(2025, 3, 1, tzinfo=UTC)


def refused(raw: dict) -> str:
    with pytest.raises(PlanInvalid) as error:
        validate_terms(raw)
    return error.value.field


def test_a_plan_is_normalised_to_storable_json():
    terms = validate_terms({**PLAN, "discount_percent": "12.5", "tags": {"team": "ops"}})
    assert terms["unit_price"] == "8.75" and terms["discount_percent"] == "12.5"
    assert terms["anniversary_day"] == 31 and terms["end_date"] is None and terms["invoice_issuer"] is None
    assert terms["discount_amount"] == "0" and terms["tags"] == {"team": "ops"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"color": "red"}, "color"),
        ({"seats": -1}, "seats"),
        ({"seats": True}, "seats"),
        ({"seats": "3"}, "seats"),
        ({"unit_price": 8.75}, "unit_price"),  # a float is already rounded: money is a decimal string
        ({"unit_price": "NaN"}, "unit_price"),
        ({"unit_price": "-1"}, "unit_price"),
        ({"unit_price": "1.0000000001"}, "unit_price"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "US"}, "currency"),
        ({"billing_cycle": "weekly"}, "billing_cycle"),
        ({"start_date": "2025-02-30"}, "start_date"),
        ({"start_date": "20250101"}, "start_date"),
        ({"anniversary_day": 32}, "anniversary_day"),
        ({"billing_cycle": "annual", "anniversary_day": 5}, "anniversary_day"),
        ({"end_date": "2025-01-31"}, "end_date"),
        ({"discount_percent": "101"}, "discount_percent"),
        ({"vendor": ""}, "vendor"),
        ({"plan": "x" * 201}, "plan"),
        ({"tags": ["a"]}, "tags"),
        ({"tags": {"team": 7}}, "tags.team"),
    ],
)
def test_bad_fields_are_refused_by_name(change, field):
    assert refused({**PLAN, **change}) == field


def test_every_required_field_is_named_when_missing():
    for name in ("vendor", "seats", "unit_price", "currency", "start_date"):
        assert refused({k: v for k, v in PLAN.items() if k != name}) == name


def test_a_change_may_not_touch_what_defines_the_cycles():
    current = validate_terms(PLAN)
    assert apply_change(current, {"seats": 9, "unit_price": "9.00"})["seats"] == 9
    for field, value in (("currency", "EUR"), ("billing_cycle", "annual"), ("start_date", "2025-02-01")):
        with pytest.raises(PlanInvalid) as error:
            apply_change(current, {field: value})
        assert error.value.field == field
    assert apply_change(current, {"currency": "USD"})["currency"] == "USD"  # unchanged is fine


def test_versions_append_and_refuse_a_date_before_the_plan():
    document = new_document("s", validate_terms(PLAN), NOW)
    changed = next_version(document, {"seats": 5}, date(2025, 2, 10), False, NOW)
    assert (changed["version"], changed["terms"]["seats"], len(changed["versions"])) == (2, 5, 2)
    assert changed["versions"][-1]["effective_date"] == "2025-02-10"
    assert changed["versions"][-1]["changes"] == {"seats": 5}  # what it sets; terms: what that gave then
    ended = next_version(changed, {}, date(2025, 3, 5), True, NOW)
    assert ended["terms"]["end_date"] == "2025-03-05" and ended["versions"][-1]["change"] == "end"
    with pytest.raises(ApiError) as error:
        next_version(document, {"seats": 5}, date(2025, 1, 30), False, NOW)
    assert error.value.code == "INVALID_REQUEST" and "effective_date" in error.value.message


def test_monthly_anniversaries_clamp_to_short_months():
    terms = validate_terms(PLAN)  # the 31st
    assert cycle_of(terms, date(2025, 2, 28)) == (date(2025, 2, 28), date(2025, 3, 31))
    assert cycle_of(terms, date(2025, 2, 27)) == (date(2025, 1, 31), date(2025, 2, 28))
    assert cycle_of(terms, date(2024, 2, 29)) == (date(2024, 2, 29), date(2024, 3, 31))


def test_minor_units():
    assert (minor_unit("USD"), minor_unit("JPY"), minor_unit("KWD")) == (
        minor_unit("EUR"),
        1,
        minor_unit("BHD"),
    )


def test_onboarding_refuses_a_credential_for_saas():
    from shared.tenancy.onboarding import AdminError, set_credential
    from tests.kit.steps import offline_settings

    with pytest.raises(AdminError, match="needs no credential"):
        set_credential(offline_settings(), "acmecorp", "saas", "", {})


def test_a_plan_whose_history_would_outgrow_a_document_is_refused():
    document = new_document(
        "s", validate_terms({**PLAN, "tags": {f"k{n}": "v" * 200 for n in range(50)}}), NOW
    )
    with pytest.raises(ApiError) as error:
        for day in range(1, 400):
            document = next_version(
                document, {"seats": day}, date(2025, 2, 1) + timedelta(days=day), False, NOW
            )
    assert error.value.code == "SAAS_PLAN_CONFLICT" and len(document["versions"]) < 100
