"""Request bodies of the HTTP API, validated strictly (unknown fields are rejected)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import ApiError


class RunBody(BaseModel):
    """POST /pipelines/run body: one `date`, or `start_date` and `end_date` (inclusive, UTC days)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    date: dt.date | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    force_refresh: bool = False
    trigger_by: str | None = Field(None, max_length=100, pattern=r"^[\w .@:/-]*$")

    @model_validator(mode="after")
    def _one_form(self) -> RunBody:
        if self.date is not None and (self.start_date or self.end_date):
            raise ValueError("send either date or start_date/end_date, not both")
        if self.date is None and (self.start_date is None or self.end_date is None):
            raise ValueError("send date, or both start_date and end_date")
        return self

    def date_range(self) -> tuple[dt.date, dt.date]:
        """The inclusive range asked for."""
        if self.date is not None:
            return self.date, self.date
        return self.start_date, self.end_date


def parse_run_body(raw: bytes, max_range_days: int) -> RunBody:
    """Validate a run request body; 422 naming the field at fault."""
    if not raw.strip():
        raise ApiError("INVALID_REQUEST", 'Body must be JSON: {"date": "YYYY-MM-DD"} or start_date/end_date.')
    try:
        body = RunBody.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError("INVALID_REQUEST", f"{where}: {first['msg']}") from None
    start, end = body.date_range()
    field = "date" if body.date else "end_date"
    if end < start:
        raise ApiError("INVALID_REQUEST", "end_date: must not be before start_date")
    if (end - start).days + 1 > max_range_days:
        raise ApiError("INVALID_REQUEST", f"end_date: the range may cover at most {max_range_days} days")
    today = dt.datetime.now(dt.UTC).date()
    if end > today:
        raise ApiError("INVALID_REQUEST", f"{field}: {end} is in the future (today is {today} UTC)")
    if start < today - dt.timedelta(days=3 * 366):
        raise ApiError(
            "INVALID_REQUEST", "start_date: more than three years ago; providers keep no such data"
        )
    return body
