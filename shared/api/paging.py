"""Opaque cursor tokens for run listings: the (created_at, id) of the last row a page showed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from shared.platform.errors import ApiError
from shared.platform.identifiers import is_run_id


def encode_page_token(created_at: datetime, run_id: str) -> str:
    """The token that resumes a listing after this row."""
    raw = json.dumps({"c": created_at.isoformat(), "i": run_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[datetime, str]:
    """The row a token points after; 422 if it is not one this API issued."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        created_at, run_id = datetime.fromisoformat(raw["c"]), raw["i"]
        # In UTC now: an offset that moves the time past year 1 or 9999 overflows here, not in the query.
        created_at = created_at.astimezone(UTC) if created_at.tzinfo is not None else None
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise ApiError("INVALID_REQUEST", "page_token: not a token this API issued") from exc
    if created_at is None or not isinstance(run_id, str) or not is_run_id(run_id):
        raise ApiError("INVALID_REQUEST", "page_token: not a token this API issued")
    return created_at, run_id


def id_page_args(request, token_pattern, max_page: int) -> tuple[int, str | None]:
    """`limit` (1..max_page, default 20) and `page_token` (an id matching `token_pattern`) of a listing paged by
    document id; 422 naming an unknown parameter or a bad value."""
    unknown = sorted(set(request.args) - {"limit", "page_token"})
    if unknown:
        raise ApiError("INVALID_REQUEST", f"{unknown[0]}: unknown parameter")
    limit_text = request.args.get("limit", "20")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= max_page:
        raise ApiError("INVALID_REQUEST", f"limit: an integer from 1 to {max_page}")
    token = request.args.get("page_token")
    if token is not None and not token_pattern.match(token):
        raise ApiError("INVALID_REQUEST", "page_token: not a token this API issued")
    return int(limit_text), token
