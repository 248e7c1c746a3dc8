"""What a run is: its request (the message a worker receives), its statuses, and its duplicate fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED = "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"
RUN_STATUSES = (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED)
IN_FLIGHT = (PENDING, RUNNING)
TERMINAL = (COMPLETED, FAILED, CANCELLED)


@dataclass(frozen=True)
class SliceRef:
    """One slice of a fanned-out run: its number and the days (inclusive) it loads, as one delivery."""

    index: int
    start_date: date
    end_date: date

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1


@dataclass(frozen=True)
class RunRequest:
    """What a run is asked to do; the message published for the worker carries exactly this."""

    pipeline_logging_id: str
    org_slug: str
    pipeline_id: str
    provider: str
    start_date: date
    end_date: date
    force_refresh: bool = False
    trigger_by: str | None = None
    slice: SliceRef | None = None  # set on a slice's message: the delivery loads only these days

    def to_message(self) -> dict:
        message = {
            "pipeline_logging_id": self.pipeline_logging_id,
            "org_slug": self.org_slug,
            "pipeline_id": self.pipeline_id,
            "provider": self.provider,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "force_refresh": self.force_refresh,
            "trigger_by": self.trigger_by,
        }
        if self.slice is not None:
            message["slice"] = {
                "index": self.slice.index,
                "start_date": self.slice.start_date.isoformat(),
                "end_date": self.slice.end_date.isoformat(),
            }
        return message

    @classmethod
    def from_message(cls, data: dict) -> RunRequest:
        return cls(
            pipeline_logging_id=data["pipeline_logging_id"],
            org_slug=data["org_slug"],
            pipeline_id=data["pipeline_id"],
            provider=data["provider"],
            start_date=date.fromisoformat(data["start_date"]),
            end_date=date.fromisoformat(data["end_date"]),
            force_refresh=bool(data.get("force_refresh", False)),
            trigger_by=data.get("trigger_by"),
            slice=_slice(data.get("slice")),
        )


def _slice(data) -> SliceRef | None:
    if data is None:
        return None
    index = data["index"]
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 10_000:
        raise ValueError("slice index must be an integer in 0..9999")
    start, end = date.fromisoformat(data["start_date"]), date.fromisoformat(data["end_date"])
    if end < start:
        raise ValueError("a slice ends before it starts")
    return SliceRef(index, start, end)


def fingerprint(org_slug: str, pipeline_id: str, start: date, end: date) -> str:
    """Identifies identical requests (same org, pipeline and dates) to find a run already in flight."""
    return hashlib.sha256(f"{org_slug}|{pipeline_id}|{start}|{end}".encode()).hexdigest()
