"""The demo org's SaaS plans, relative to today so the demo week shows an invoice day, a mid-cycle seat increase
and an annual plan's amortised days; written with fixed ids, so onboarding the demo org again rewrites them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from shared.saas.plans import COLLECTION, new_document, next_version
from shared.saas.terms import validate_terms


def demo_plans(today) -> list[tuple[str, dict, list[tuple[int, dict]]]]:
    """(name, terms, [(days before today it takes effect, change), ...]) of each demo plan."""
    week_start = today - timedelta(days=7)
    return [
        (
            "slack",
            {
                "vendor": "Slack",
                "product": "Slack",
                "plan": "Business+",
                "seats": 40,
                "unit_price": "12.50",
                "currency": "USD",
                "billing_cycle": "monthly",
                "start_date": (week_start - timedelta(days=60)).isoformat(),
                "anniversary_day": min(week_start.day, 28),
                "tags": {"team": "company"},
            },
            [(4, {"seats": 55})],  # a seat increase in the demo week, prorated
        ),
        (
            "jira",
            {
                "vendor": "Atlassian",
                "product": "Jira",
                "plan": "Standard",
                "seats": 25,
                "unit_price": "87.00",
                "currency": "USD",
                "billing_cycle": "annual",
                "start_date": (today - timedelta(days=200)).isoformat(),
                "discount_percent": "10",
                "tags": {"team": "engineering"},
            },
            [],
        ),
        (
            "figma",
            {
                "vendor": "Figma",
                "product": "Figma",
                "plan": "Professional",
                "seats": 8,
                "unit_price": "15.00",
                "currency": "EUR",
                "billing_cycle": "monthly",
                "start_date": (today - timedelta(days=100)).isoformat(),
                "discount_amount": "10.00",
                "invoice_issuer": "SoftwareOne",
                "tags": {"team": "design"},
            },
            [],
        ),
    ]


def seed_demo_plans(settings, slug: str) -> list[str]:
    """Write the demo plans (with their versions) into the org's store; their ids."""
    from shared.runs.control import control_db

    now = datetime.now(UTC)
    collection = control_db(settings).collection("orgs").document(slug).collection(COLLECTION)
    ids = []
    for name, raw, changes in demo_plans(now.date()):
        subscription_id = "saas_" + hashlib.sha256(f"{slug}/{name}".encode()).hexdigest()[:24]
        document = new_document(subscription_id, validate_terms(raw), now)
        for days_ago, change in changes:
            document = next_version(document, change, now.date() - timedelta(days=days_ago), False, now)
        collection.document(subscription_id).set(document)
        ids.append(subscription_id)
    return ids
