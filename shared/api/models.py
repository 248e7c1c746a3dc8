"""Request bodies of the HTTP API, validated strictly (unknown fields are rejected)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from shared.platform.errors import ApiError
from shared.platform.identifiers import SCHEDULER_TRIGGER
from shared.runs.model import RUN_STATUSES


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
        if self.trigger_by == SCHEDULER_TRIGGER:  # marks the scheduler's own runs, which it counts as done
            raise ValueError(f"trigger_by {SCHEDULER_TRIGGER!r} is reserved")
        return self

    def date_range(self) -> tuple[dt.date, dt.date]:
        """The inclusive range asked for."""
        if self.date is not None:
            return self.date, self.date
        return self.start_date, self.end_date


class _DuplicateKey(ValueError):
    """A JSON object named one key twice."""


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def refuse_duplicate_keys(raw: bytes) -> None:
    """422 naming a key that an object of the JSON body gives twice (a JSON parser keeps the last silently, so a
    mistake such as two dates would pass unseen); bodies that are not JSON are left to the model's own errors."""
    try:
        json.loads(raw, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as duplicate:
        raise ApiError("INVALID_REQUEST", f"{duplicate.args[0]}: given twice in the body") from None
    except (
        ValueError,
        RecursionError,
    ):  # not JSON, or nested too deep: the model's parser says what is wrong
        pass


def _invalid(exc: ValidationError, whole: str) -> ApiError:
    """A 422 naming the first field pydantic refused."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or whole
    return ApiError("INVALID_REQUEST", f"{where}: {first['msg']}")


def parse_run_body(raw: bytes, max_range_days: int) -> RunBody:
    """Validate a run request body; 422 naming the field at fault."""
    if not raw.strip():
        raise ApiError("INVALID_REQUEST", 'Body must be JSON: {"date": "YYYY-MM-DD"} or start_date/end_date.')
    refuse_duplicate_keys(raw)
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


class TriggerBody(BaseModel):
    """POST /scheduler/trigger body (all optional): which pipeline (default: every scheduled one) and org
    (default: every org), an explicit
    `date` (a backfill), or the firing time to compute the due day from (default: Cloud Scheduler's header,
    else the schedule's latest firing)."""

    model_config = ConfigDict(extra="forbid")
    pipeline_id: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]{0,49}/[a-z][a-z0-9_]{0,49}/[a-z][a-z0-9_]{0,49}$"
    )
    org_slug: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{2,49}$")  # one org (a backfill, a test)
    date: dt.date | None = None
    scheduled_time: dt.datetime | None = None

    @model_validator(mode="after")
    def _one_day(self) -> TriggerBody:
        if self.date is not None and self.scheduled_time is not None:
            raise ValueError("send either date or scheduled_time, not both")
        if self.scheduled_time is not None and self.scheduled_time.tzinfo is None:
            raise ValueError("scheduled_time needs a UTC offset (RFC 3339)")
        if self.scheduled_time is not None and (problem := firing_time_problem(self.scheduled_time)):
            raise ValueError(f"scheduled_time {problem}")
        if self.date is not None and self.date > dt.datetime.now(dt.UTC).date():
            raise ValueError("date is in the future")
        return self


# Clocks differ a little: Cloud Scheduler's firing time may be ahead of this instance's clock by this much.
FIRING_CLOCK_SKEW = dt.timedelta(minutes=5)


def firing_time_problem(firing: dt.datetime) -> str | None:
    """Why an (offset-aware) firing time cannot name a day to run, or None: it must be a past instant (a firing
    that has not happened names a future day) of the last three years, as run requests' dates are."""
    now = dt.datetime.now(dt.UTC)
    try:
        instant = firing.astimezone(dt.UTC)
    except OverflowError:  # year 1 or 9999 with an offset that crosses the calendar's edge
        return "is out of range"
    if instant > now + FIRING_CLOCK_SKEW:
        return "is in the future"
    if instant < now - dt.timedelta(days=3 * 366):
        return "is more than three years ago"
    return None


class TaskBody(BaseModel):
    """POST /scheduler/process-queue body: the payload of one task the trigger enqueued."""

    model_config = ConfigDict(extra="forbid")
    org_slug: str = Field(pattern=r"^[a-z][a-z0-9_]{2,49}$")
    pipeline_id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}/[a-z][a-z0-9_]{0,49}/[a-z][a-z0-9_]{0,49}$")
    date: dt.date

    @model_validator(mode="after")
    def _not_future(self) -> TaskBody:
        # A "today" schedule in a zone ahead of UTC may run UTC's tomorrow; nothing later is a scheduled day.
        if self.date > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):
            raise ValueError("date is in the future")
        return self


def parse_model(model: type[BaseModel], raw: bytes, *, empty_ok: bool = False) -> BaseModel:
    """Validate a JSON body against `model`; an empty body is `{}` when `empty_ok`; 422 naming the field."""
    if not raw.strip():
        if not empty_ok:
            raise ApiError("INVALID_REQUEST", "Body must be a JSON object.")
        raw = b"{}"
    refuse_duplicate_keys(raw)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _invalid(exc, "body") from None


_SLUG = r"^[a-z][a-z0-9_]{2,49}$"
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\w.:-]+$")]
_PROVIDER = r"^[a-z][a-z0-9_]{0,49}$"


class DeadLetterQuery(BaseModel):
    """GET /admin/dead-letters query parameters."""

    model_config = ConfigDict(extra="forbid")
    provider: str | None = Field(None, pattern=_PROVIDER)
    org_slug: str | None = Field(None, pattern=_SLUG)
    limit: int = Field(100, ge=1, le=500)


def parse_dead_letter_query(args) -> DeadLetterQuery:
    """Validate dead-letter listing filters; 422 naming the parameter at fault."""
    raw = {}
    for name in args:
        values = args.getlist(name)
        if len(values) != 1:
            raise ApiError("INVALID_REQUEST", f"{name}: give it once")
        raw[name] = values[0]
    try:
        return DeadLetterQuery.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc, "query") from None


class ReplayBody(BaseModel):
    """POST /admin/dead-letters/replay body: `message_ids`, or `all` (optionally narrowed by provider/org)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    message_ids: list[MessageId] | None = Field(None, min_length=1, max_length=500)
    all: bool = False
    provider: str | None = Field(None, pattern=_PROVIDER)
    org_slug: str | None = Field(None, pattern=_SLUG)

    @model_validator(mode="after")
    def _one_selection(self) -> ReplayBody:
        if self.message_ids is not None and (self.all or self.provider or self.org_slug):
            raise ValueError("send either message_ids, or all (with provider/org_slug), not both")
        if self.message_ids is None and not self.all:
            raise ValueError('send message_ids, or "all": true')
        return self
