"""An org's monthly budgets: validation (pure) and the Firestore store, one document per budget

    orgs/{org}/budgets/{budget_id}
        budget_id ("bud_" + 24 hex), name, provider (a cost_focus ProviderName, or null: all providers),
        currency (ISO 4217: only rows billed in it count; currencies are never summed together),
        amount (decimal string > 0, per calendar month of ChargePeriodStart, UTC), metric (EffectiveCost |
        BilledCost), thresholds [{percent, basis: actual | forecast}], version, created_at, updated_at

A change names the version it was made against (If-Match); a stale one is refused with 409 BUDGET_CONFLICT, as
the SaaS plans do (shared/saas/plans.py).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from shared.platform.errors import ApiError

COLLECTION = "budgets"
BUDGET_ID = re.compile(r"^bud_[0-9a-f]{24}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
METRICS = ("EffectiveCost", "BilledCost")
BASES = ("actual", "forecast")
DEFAULT_THRESHOLDS = [
    {"percent": 50, "basis": "actual"},
    {"percent": 80, "basis": "actual"},
    {"percent": 100, "basis": "actual"},
    {"percent": 100, "basis": "forecast"},
]
FIELDS = ("name", "provider", "currency", "amount", "metric", "thresholds")
REQUIRED = ("name", "currency", "amount")
MAX_TEXT = 200
MAX_THRESHOLDS = 20
MAX_AMOUNT = Decimal("1e15")


def _invalid(field: str, problem: str) -> ApiError:
    return ApiError("INVALID_REQUEST", f"{field}: {problem}")


def _text(body: dict, field: str, *, nullable: bool = False) -> str | None:
    value = body[field]
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise _invalid(
            field, f"a non-empty string of at most {MAX_TEXT} characters" + (" or null" * nullable)
        )
    return value.strip()


def _amount(value) -> str:
    # A string only: a JSON number would have passed through a float on the caller's side.
    if not isinstance(value, str):
        raise _invalid("amount", 'a decimal string, e.g. "1500.00"')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _invalid("amount", 'a decimal string, e.g. "1500.00"') from None
    if not amount.is_finite() or not 0 < amount < MAX_AMOUNT or amount.as_tuple().exponent < -9:
        raise _invalid("amount", "greater than 0, below 1e15, at most 9 decimal places")
    return str(amount)


def _thresholds(value) -> list[dict]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_THRESHOLDS:
        raise _invalid("thresholds", f"a list of 1 to {MAX_THRESHOLDS} {{percent, basis}} objects")
    seen, result = set(), []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"percent", "basis"} or "percent" not in item:
            raise _invalid("thresholds", 'each is {"percent": 80, "basis": "actual" | "forecast"}')
        percent, basis = item["percent"], item.get("basis", "actual")
        if type(percent) is not int or not 1 <= percent <= 1000:
            raise _invalid("thresholds", "percent: an integer from 1 to 1000")
        if basis not in BASES:
            raise _invalid("thresholds", "basis: actual or forecast")
        if (percent, basis) in seen:
            raise _invalid("thresholds", f"{percent} % {basis} is listed twice")
        seen.add((percent, basis))
        result.append({"percent": percent, "basis": basis})
    return sorted(result, key=lambda t: (t["basis"], t["percent"]))


def validate_fields(body: dict, *, creating: bool) -> dict:
    """The budget fields of a create (all required ones, defaults filled) or change (those given); 422 naming the
    first bad field."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise _invalid(unknown[0], "unknown field")
    if creating:
        missing = [field for field in REQUIRED if field not in body]
        if missing:
            raise _invalid(missing[0], "required")
        body = {"provider": None, "metric": "EffectiveCost", "thresholds": DEFAULT_THRESHOLDS, **body}
    elif not body:
        raise ApiError("INVALID_REQUEST", "body: name at least one field to change")
    checks = {
        "name": lambda: _text(body, "name"),
        "provider": lambda: _text(body, "provider", nullable=True),
        "currency": lambda: _currency(body["currency"]),
        "amount": lambda: _amount(body["amount"]),
        "metric": lambda: _metric(body["metric"]),
        "thresholds": lambda: _thresholds(body["thresholds"]),
    }
    return {field: checks[field]() for field in FIELDS if field in body}


def _currency(value) -> str:
    if not isinstance(value, str) or not CURRENCY.match(value):
        raise _invalid("currency", "an ISO 4217 code in upper case, e.g. USD")
    return value


def _metric(value) -> str:
    if value not in METRICS:
        raise _invalid("metric", "EffectiveCost or BilledCost")
    return value


def _collection(db, org_slug: str):
    return db.collection("orgs").document(org_slug).collection(COLLECTION)


def _not_found() -> ApiError:
    return ApiError("BUDGET_NOT_FOUND", "No such budget in this org.")


def create_budget(db, org_slug: str, body: dict, now: datetime | None = None) -> dict:
    """Store a new budget at version 1; the stored document."""
    now = now or datetime.now(UTC)
    document = {
        "budget_id": f"bud_{uuid.uuid4().hex[:24]}",
        **validate_fields(body, creating=True),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    _collection(db, org_slug).document(document["budget_id"]).create(document)
    return document


def get_budget(db, org_slug: str, budget_id: str) -> dict:
    """One budget of the org; 404 for an unknown, malformed or another org's id."""
    if not BUDGET_ID.match(budget_id):
        raise _not_found()
    snapshot = _collection(db, org_slug).document(budget_id).get()
    if not snapshot.exists:
        raise _not_found()
    return snapshot.to_dict()


def _checked(snapshot, expected_version: int | None) -> dict:
    if not snapshot.exists:
        raise _not_found()
    document = snapshot.to_dict()
    if expected_version is not None and expected_version != document["version"]:
        raise ApiError(
            "BUDGET_CONFLICT",
            f"The budget is at version {document['version']}, not {expected_version}: read it and retry.",
        )
    return document


def change_budget(
    db, org_slug: str, budget_id: str, body: dict, expected_version: int | None, now: datetime | None = None
) -> dict:
    """Apply a change as the next version in one transaction; 404, 409 on a stale If-Match, 422 if invalid."""
    from google.cloud import firestore

    from shared.runs.control import transact

    if not BUDGET_ID.match(budget_id):
        raise _not_found()
    changes = validate_fields(body, creating=False)
    ref = _collection(db, org_slug).document(budget_id)

    @firestore.transactional
    def apply(transaction):
        document = _checked(ref.get(transaction=transaction), expected_version)
        updated = {
            **document,
            **changes,
            "version": document["version"] + 1,
            "updated_at": now or datetime.now(UTC),
        }
        transaction.set(ref, updated)
        return updated

    return transact(db, apply)


def delete_budget(db, org_slug: str, budget_id: str, expected_version: int | None) -> None:
    """Delete a budget (its alerts stay in the alerts table); 404, 409 on a stale If-Match."""
    from google.cloud import firestore

    from shared.runs.control import transact

    if not BUDGET_ID.match(budget_id):
        raise _not_found()
    ref = _collection(db, org_slug).document(budget_id)

    @firestore.transactional
    def remove(transaction):
        _checked(ref.get(transaction=transaction), expected_version)
        transaction.delete(ref)

    transact(db, remove)


def list_budgets(db, org_slug: str, limit: int, after: str | None = None) -> tuple[list[dict], str | None]:
    """A page of the org's budgets by id, and the id to resume after (None: the last page)."""
    query = _collection(db, org_slug).order_by("budget_id").limit(limit + 1)
    if after:
        query = query.start_after({"budget_id": after})
    documents = [snapshot.to_dict() for snapshot in query.stream()]
    return documents[:limit], (documents[limit - 1]["budget_id"] if len(documents) > limit else None)


def org_budgets(db, org_slug: str) -> list[dict]:
    """Every budget of the org (what an evaluation checks), in id order."""
    return [snapshot.to_dict() for snapshot in _collection(db, org_slug).order_by("budget_id").stream()]
