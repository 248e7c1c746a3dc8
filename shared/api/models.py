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


def _invalid(exc: ValidationError, whole: str) -> ApiError:
    """A 422 naming the first field pydantic refused."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or whole
    return ApiError("INVALID_REQUEST", f"{where}: {first['msg']}")


def parse_run_body(raw: bytes, max_range_days: int) -> RunBody:
    """Validate a run request body; 422 naming the field at fault."""
    if not raw.strip():
        raise ApiError("INVALID_REQUEST", 'Body must be JSON: {"date": "YYYY-MM-DD"} or start_date/end_date.')
    try:
        body = RunBody.model_validate_json(raw)
    except ValidationError as exc:
        raise _invalid(exc, "body") from None
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


RUN_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")


class ListRunsQuery(BaseModel):
    """GET /pipelines/runs query parameters."""

    model_config = ConfigDict(extra="forbid")
    status: str | None = Field(None, pattern="^(" + "|".join(RUN_STATUSES) + ")$")
    pipeline: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]{0,49}/[a-z][a-z0-9_]{0,49}/[a-z][a-z0-9_]{0,49}$"
    )
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    limit: int = Field(20, ge=1, le=100)
    page_token: str | None = Field(None, max_length=500)


def parse_list_query(args) -> ListRunsQuery:
    """Validate listing filters; 422 naming the parameter at fault."""
    raw = {}
    for name in args:
        values = args.getlist(name)
        if len(values) != 1:
            raise ApiError("INVALID_REQUEST", f"{name}: give it once")
        raw[name] = values[0]
    try:
        query = ListRunsQuery.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc, "query") from None
    if query.start_date and query.end_date and query.end_date < query.start_date:
        raise ApiError("INVALID_REQUEST", "end_date: must not be before start_date")
    return query
