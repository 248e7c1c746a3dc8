"""The report's read-only view of an org's budgets (the store is shared/alerts/budgets.py: Firestore
`orgs/{org}/budgets/{budget_id}`). A document that does not read as a budget is reported as skipped, never guessed
at."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from shared.alerts.budgets import DEFAULT_THRESHOLDS, METRICS, org_budgets


class BudgetUnreadable(ValueError):
    """A budget document without the contract's fields."""


def parse_budget(document: dict) -> dict:
    """A budget document as the report uses it: amount a Decimal > 0, metric and thresholds defaulted."""
    try:
        amount = Decimal(str(document["amount"]))
    except (KeyError, InvalidOperation) as exc:
        raise BudgetUnreadable(f"budget {document.get('budget_id')!r}: amount is not a decimal") from exc
    if not amount.is_finite() or amount <= 0:
        raise BudgetUnreadable(f"budget {document.get('budget_id')!r}: amount must be > 0")
    metric = document.get("metric") or "EffectiveCost"
    currency = document.get("currency")
    if metric not in METRICS or not isinstance(currency, str) or len(currency) != 3:
        raise BudgetUnreadable(f"budget {document.get('budget_id')!r}: metric or currency not understood")
    thresholds = document.get("thresholds") or DEFAULT_THRESHOLDS
    return {
        "budget_id": document.get("budget_id"),
        "name": document.get("name") or document.get("budget_id"),
        "provider": document.get("provider"),
        "currency": currency,
        "amount": amount,
        "metric": metric,
        "thresholds": sorted(
            ({"percent": int(t["percent"]), "basis": t.get("basis", "actual")} for t in thresholds),
            key=lambda t: (t["basis"], t["percent"]),
        ),
    }


def read_budgets(db, org_slug: str) -> tuple[list[dict], list[str]]:
    """The org's budgets (by name) and the reasons of documents skipped as unreadable."""
    budgets, skipped = [], []
    for document in org_budgets(db, org_slug):
        try:
            budgets.append(parse_budget(document))
        except BudgetUnreadable as error:
            skipped.append(str(error))
    return sorted(budgets, key=lambda b: (b["name"], b["budget_id"])), skipped
