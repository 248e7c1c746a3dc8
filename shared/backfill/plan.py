"""A backfill's plan and its state file: the range cut into run requests, each request's runs, and the rules that
decide what a request needs next (submit, await, resubmit once, or nothing)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

IN_FLIGHT = ("PENDING", "RUNNING")
UNSUCCESSFUL = ("FAILED", "CANCELLED")
MAX_SUBMISSIONS = 2  # a request whose run failed is sent once more, then reported as a failure
STATE_VERSION = 1


class PlanError(ValueError):
    """A backfill that cannot be planned as asked (bad dates, run size over the pipeline's limit, a state file
    made by another command)."""


def split_range(first: date, last: date, days_per_run: int, max_range_days: int) -> list[tuple[date, date]]:
    """[first, last] cut into consecutive, date-ordered run requests of at most `days_per_run` days."""
    if last < first:
        raise PlanError(f"--to {last} is before --from {first}")
    if not 1 <= days_per_run <= max_range_days:
        raise PlanError(f"--days-per-run must be 1..{max_range_days} (the pipeline's max_range_days)")
    cuts, start = [], first
    while start <= last:
        end = min(start + timedelta(days=days_per_run - 1), last)
        cuts.append((start, end))
        start = end + timedelta(days=1)
    return cuts


@dataclass
class Request:
    """One run request of the backfill and what the API last said about its runs."""

    start_date: str
    end_date: str
    run_ids: list[str] = field(default_factory=list)  # every run sent for these dates, oldest first
    status: str | None = None  # the latest run's status
    submitting_since: str | None = None  # a POST whose answer was never recorded went out at this time (UTC)
    rows: int | None = None
    slices_total: int | None = None
    slices_done: int | None = None
    error: str | None = None  # "CODE: message" of the latest unsuccessful run

    @property
    def days(self) -> int:
        return (date.fromisoformat(self.end_date) - date.fromisoformat(self.start_date)).days + 1

    @property
    def label(self) -> str:
        return f"{self.start_date}..{self.end_date}"

    @property
    def run_id(self) -> str | None:
        return self.run_ids[-1] if self.run_ids else None

    def needs_submission(self) -> bool:
        """Never sent, or its run failed and it has not been sent again yet."""
        if self.submitting_since is not None:
            return False  # first find out whether that POST created a run
        if not self.run_ids:
            return True
        return self.status in UNSUCCESSFUL and len(self.run_ids) < MAX_SUBMISSIONS

    def in_flight(self) -> bool:
        return self.status in IN_FLIGHT

    def failed_for_good(self) -> bool:
        return self.status in UNSUCCESSFUL and len(self.run_ids) >= MAX_SUBMISSIONS

    def expected_slices(self, slice_days: int | None) -> int:
        """Slices its run reports (once known), else those the pipeline's slice_days will make (1: no fan-out)."""
        if self.slices_total:
            return self.slices_total
        return math.ceil(self.days / slice_days) if slice_days and self.days > slice_days else 1

    def slices_finished(self, slice_days: int | None) -> int:
        if self.status == "COMPLETED":
            return self.expected_slices(slice_days)
        return (self.slices_done or 0) if self.in_flight() else 0


@dataclass
class BackfillState:
    """The backfill's identity and requests; saved after every change so a new process resumes where one
    stopped."""

    org: str
    pipeline: str
    first: str
    last: str
    days_per_run: int
    api_url: str
    requests: list[Request]
    path: Path | None = None

    IDENTITY = ("org", "pipeline", "first", "last", "days_per_run", "api_url")

    def save(self) -> None:
        """Write the state atomically (a reader sees the old or the new file, never half of one)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": STATE_VERSION, **{k: getattr(self, k) for k in self.IDENTITY}}
        body["requests"] = [asdict(r) for r in self.requests]
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(body, indent=1) + "\n")
        os.replace(temporary, self.path)


def load_or_plan(path: Path | None, identity: dict, cuts: list[tuple[date, date]]) -> BackfillState:
    """The state file at `path` when it holds this same backfill, else a new plan of `cuts` (not saved yet)."""
    if path is not None and path.exists():
        try:
            saved = json.loads(path.read_text())
        except ValueError:
            raise PlanError(f"{path} is not a backfill state file: pass --state with another file") from None
        differs = [k for k in BackfillState.IDENTITY if saved.get(k) != identity[k]]
        if saved.get("version") != STATE_VERSION or differs:
            raise PlanError(
                f"{path} holds another backfill ({', '.join(differs) or 'version'} differ): pass --state with "
                "another file, or delete it to start over"
            )
        requests = [Request(**r) for r in saved["requests"]]
        return BackfillState(**identity, requests=requests, path=path)
    requests = [Request(start.isoformat(), end.isoformat()) for start, end in cuts]
    return BackfillState(**identity, requests=requests, path=path)


def default_state_path(local_dir: Path, org: str, pipeline: str, first: date, last: date) -> Path:
    """.local/backfills/<org>-<provider>-<domain>-<pipeline>-<from>-<to>.json"""
    return local_dir / "backfills" / f"{org}-{pipeline.replace('/', '-')}-{first}-{last}.json"
