"""A SaaS plan's terms as the org enters them, validated by small pure functions: what a plan may say, in which
shape, and which fields a change may not touch. Every refusal is a PlanInvalid naming the field.

Fields (all strings in JSON; money as decimal strings, never floats):
  vendor, product, plan          who sells what, under which plan name (ProviderName, ServiceName, SkuId)
  seats                          int >= 0
  unit_price                     decimal string >= 0: the price of one seat for one billing cycle
  currency                       ISO 4217, three upper-case letters (BillingCurrency)
  billing_cycle                  "monthly" | "annual"
  anniversary_day                monthly only: 1-31, the day each cycle starts (clamped to a short month's last
                                 day); default: start_date's day. Annual cycles start on start_date's month/day.
  start_date                     the first day of the plan (YYYY-MM-DD)
  end_date                       optional; EXCLUSIVE: no cycle starts on or after it (the cycle in progress then
                                 was paid and runs out; SaaS vendors keep access to the period's end, no refund)
  discount_percent               optional decimal 0-100, off every seat's price
  discount_amount                optional decimal >= 0, off each cycle's price (after the percent)
  invoice_issuer                 optional: a reseller that invoices the plan (InvoiceIssuerName; default: vendor)
  tags                           optional {string: string} (FOCUS Tags)
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

MONTHLY, ANNUAL = "monthly", "annual"
BILLING_CYCLES = (MONTHLY, ANNUAL)
REQUIRED = ("vendor", "product", "plan", "seats", "unit_price", "currency", "billing_cycle", "start_date")
OPTIONAL = ("anniversary_day", "end_date", "discount_percent", "discount_amount", "invoice_issuer", "tags")
FIELDS = REQUIRED + OPTIONAL
# A change prices days from its effective date on; these define the cycles and the ledger, so a different value
# is a different plan (end this one, add another).
IMMUTABLE = ("vendor", "product", "currency", "billing_cycle", "anniversary_day", "start_date")
MAX_TEXT = 200
MAX_TAGS = 50
MAX_SEATS = 10_000_000
MAX_PRICE = Decimal("1e12")
CURRENCY = re.compile(r"^[A-Z]{3}$")
# ISO 4217 minor units where they are not 2 (the cent a cycle's price is exact to).
MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX"), 0),
    **dict.fromkeys(("UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


class PlanInvalid(ValueError):
    """A plan or change the API refuses (422 INVALID_REQUEST): `field` names what to fix."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency: Decimal("0.01") for most, 1 for JPY, 0.001 for KWD."""
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))


def _text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PlanInvalid(field, "must be a non-empty string")
    if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        raise PlanInvalid(field, f"at most {MAX_TEXT} printable characters")
    return value.strip()


def _decimal(field: str, value: object, upper: Decimal = MAX_PRICE) -> Decimal:
    # A float would already be rounded: money must arrive as a decimal string.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PlanInvalid(field, 'must be a decimal string such as "12.00"')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise PlanInvalid(field, f"{value!r} is not a decimal number") from None
    if not amount.is_finite() or amount < 0 or amount > upper:
        raise PlanInvalid(field, f"must be between 0 and {upper}")
    if amount.as_tuple().exponent < -9:
        raise PlanInvalid(field, "at most 9 decimal places")
    return amount


def _day(field: str, value: object) -> date:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PlanInvalid(field, "must be a date YYYY-MM-DD")


def _int(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PlanInvalid(field, f"must be an integer from {low} to {high}")
    return value


def _tags(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_TAGS:
        raise PlanInvalid("tags", f"must be an object of at most {MAX_TAGS} string values")
    for key, tag in value.items():
        _text(f"tags.{key}", key)
        if not isinstance(tag, str) or len(tag) > MAX_TEXT:
            raise PlanInvalid(f"tags.{key}", "must be a string")
    return dict(value)


def refuse_unknown(body: dict, allowed: tuple[str, ...]) -> None:
    """PlanInvalid naming the first field the plan does not have."""
    for name in body:
        if name not in allowed:
            raise PlanInvalid(name, "unknown field")


def validate_terms(raw: dict) -> dict:
    """A whole plan's terms, checked and normalised to storable JSON (decimals and dates as strings)."""
    refuse_unknown(raw, FIELDS)
    for name in REQUIRED:
        if raw.get(name) is None:
            raise PlanInvalid(name, "is required")
    terms = {name: _text(name, raw[name]) for name in ("vendor", "product", "plan")}
    terms["seats"] = _int("seats", raw["seats"], 0, MAX_SEATS)
    terms["unit_price"] = str(_decimal("unit_price", raw["unit_price"]))
    if not isinstance(raw["currency"], str) or not CURRENCY.match(raw["currency"]):
        raise PlanInvalid("currency", "must be an ISO 4217 code: three upper-case letters")
    terms["currency"] = raw["currency"]
    if raw["billing_cycle"] not in BILLING_CYCLES:
        raise PlanInvalid("billing_cycle", "must be monthly or annual")
    terms["billing_cycle"] = raw["billing_cycle"]
    start = _day("start_date", raw["start_date"])
    terms["start_date"] = start.isoformat()
    anniversary = raw.get("anniversary_day")
    if terms["billing_cycle"] == ANNUAL and anniversary is not None:
        raise PlanInvalid("anniversary_day", "an annual plan renews on its start date's month and day")
    terms["anniversary_day"] = (
        (_int("anniversary_day", anniversary, 1, 31) if anniversary is not None else start.day)
        if terms["billing_cycle"] == MONTHLY
        else None
    )
    end = raw.get("end_date")
    if end is not None and _day("end_date", end) <= start:
        raise PlanInvalid("end_date", "must be after start_date (it is exclusive)")
    terms["end_date"] = end
    terms["discount_percent"] = str(
        _decimal("discount_percent", raw.get("discount_percent") or "0", Decimal(100))
    )
    terms["discount_amount"] = str(_decimal("discount_amount", raw.get("discount_amount") or "0"))
    issuer = raw.get("invoice_issuer")
    terms["invoice_issuer"] = _text("invoice_issuer", issuer) if issuer is not None else None
    terms["tags"] = _tags(raw.get("tags") or {})
    return terms


def apply_change(current: dict, change: dict) -> dict:
    """The terms after a change (the fields it gives replace the current ones), checked whole; a change to a
    field that defines the plan's cycles or ledger is refused."""
    refuse_unknown(change, FIELDS)
    for name in IMMUTABLE:
        if name in change and change[name] != current.get(name):
            raise PlanInvalid(name, "cannot change; end this plan and add a new one")
    return validate_terms({k: v for k, v in {**current, **change}.items() if v is not None})


def parse_effective_date(value: object, default: date) -> date:
    """A change's effective date (the first day it applies); `default` (today UTC) when absent."""
    return default if value is None else _day("effective_date", value)


def in_force(versions: list[dict], day: date) -> dict | None:
    """{"version", "terms"} in force on `day`: the changes of every version effective on or before it, applied in
    order of effective date (then version number), so a backdated change alters the days from its own effective
    date on and leaves a later-dated change in place after it; None before the first version. "version" is the
    newest version number that shaped those terms."""
    applied = sorted(
        (v for v in versions if date.fromisoformat(v["effective_date"]) <= day),
        key=lambda v: (v["effective_date"], v["version"]),
    )
    if not applied:
        return None
    terms: dict = {}
    for version in applied:
        terms.update(version.get("changes", version["terms"]))
    return {"version": max(v["version"] for v in applied), "terms": terms}
