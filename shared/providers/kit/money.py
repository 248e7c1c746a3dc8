"""Money from providers: exact decimals only (never float), at BigQuery NUMERIC's scale, one rounding context."""

from __future__ import annotations

import decimal
from decimal import Decimal

from shared.platform.errors import TerminalError

# BigQuery NUMERIC: precision 38, scale 9. A local context so a caller's decimal settings never change results.
NUMERIC_SCALE = Decimal("1e-9")
NUMERIC_LIMIT = Decimal("1e29")
MONEY = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])


def exact_decimal(value: object, what: str = "amount") -> Decimal:
    """A provider's money value (Decimal, int or numeric str) as a Decimal that fits NUMERIC; PROVIDER_BAD_DATA
    for anything else. A float means JSON was parsed without parse_float=Decimal: refused, never rounded."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise TerminalError("PROVIDER_BAD_DATA", f"{what} {value!r} is not an exact decimal")
    try:
        amount = Decimal(value)
    except decimal.InvalidOperation:
        raise TerminalError("PROVIDER_BAD_DATA", f"{what} {value!r} is not a number") from None
    if not amount.is_finite() or abs(amount) >= NUMERIC_LIMIT:
        raise TerminalError("PROVIDER_BAD_DATA", f"{what} {value!r} does not fit BigQuery NUMERIC")
    return amount


def to_numeric(amount: Decimal) -> Decimal:
    """`amount` rounded (half even) to NUMERIC's 9 decimal places."""
    return MONEY.quantize(amount, NUMERIC_SCALE)
