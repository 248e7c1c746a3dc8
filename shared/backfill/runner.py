"""The backfill loop: submit the requests in date order as fast as the org's quotas allow, await their runs, send
a failed one once more, and keep the state file current so an interrupted backfill resumes without a duplicate."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.backfill.client import ApiRefusal, RunApi
from shared.backfill.plan import BackfillState, Request

POLL_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 30.0
QUOTA_WAIT_SECONDS = 30.0  # a 429 without Retry-After (the service always sends one; a proxy might not)
# Consecutive 5xx or unanswered calls before the backfill stops (a few minutes of backoff).
MAX_UNANSWERED = 10
# No answer, or a gateway's: the request may have reached the service and made a run (looked up before resending).
AMBIGUOUS_STATUSES = (0, 502, 504)
# A POST whose answer was lost may have created a run a little before the time it was recorded as sent.
CLOCK_SLACK = timedelta(minutes=5)


class BackfillStopped(Exception):
    """The API refused a request for good (a terminal 4xx) or stayed unavailable: its code and message."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def _backoff(attempt: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempt - 1))


class Backfill:
    """Drives one backfill's state to the end: every request COMPLETED or failed for good."""

    def __init__(
        self,
        api: RunApi,
        state: BackfillState,
        progress,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = POLL_SECONDS,
    ):
        self.api, self.state, self.progress = api, state, progress
        self.sleep, self.clock, self.poll_seconds = sleep, clock, poll_seconds
        self.not_before = 0.0  # no submission before this clock time (a quota's Retry-After, a backoff)
        # Runs of ours in flight when the API last answered CONCURRENCY_LIMIT_REACHED: the plan's limit as far as
        # this backfill can tell. It never sends more at once, so each run costs one accepted request, not a
        # refused one per poll (refused requests count against the plan's request rate too).
        self.concurrency: int | None = None
        self.unanswered = 0

    def run(self) -> None:
        """Reconcile with the API, then submit and await until nothing is left to do."""
        self.reconcile()
        while True:
            for request in self.state.requests:
                if request.submitting_since is not None and self.clock() >= self.not_before:
                    self._find_lost_submission(request)  # a POST that got no answer may have made a run
            todo = [r for r in self.state.requests if r.needs_submission()]
            flying = [r for r in self.state.requests if r.in_flight()]
            if not todo and not flying:
                return
            if todo and self._may_submit(len(flying)) and self.submit(todo[0]):
                continue  # accepted: the next may be accepted too (a plan with more concurrent runs)
            if flying:
                self.poll(flying)
            self.sleep(self.poll_seconds)

    def _may_submit(self, flying: int) -> bool:
        return self.clock() >= self.not_before and (self.concurrency is None or flying < self.concurrency)

    # --- resuming ---------------------------------------------------------------------------------------------

    def reconcile(self) -> None:
        """What the API says now about every request this state already sent (the first thing a resume does)."""
        for request in self.state.requests:
            if request.submitting_since is not None:
                self._find_lost_submission(request)
            if request.run_ids:
                self._refresh(request, self._recorded_run(request))
                if request.needs_submission():
                    self.progress.note(
                        f"{request.label}: run {request.run_id} {request.status} "
                        f"({request.error}); sending it once more"
                    )
        self.state.save()
        self.progress.refresh(self.state)

    def _recorded_run(self, request: Request) -> dict:
        """The request's latest run as the API has it; one it does not know (another service's state file, a
        run past its retention) counts as failed, so the request is sent again."""
        try:
            return self.patiently(lambda: self.api.run(request.run_id))
        except BackfillStopped as stopped:
            if stopped.code != "RUN_NOT_FOUND":
                raise
            return {
                "status": "FAILED",
                "error_code": "RUN_NOT_FOUND",
                "error_message": "the API has no such run",
            }

    def _find_lost_submission(self, request: Request) -> None:
        """A POST went out but its answer was not recorded (interrupted): adopt the run it created, if any."""
        since = datetime.fromisoformat(request.submitting_since) - CLOCK_SLACK
        runs = self.patiently(
            lambda: self.api.runs_for(self.state.pipeline, request.start_date, request.end_date)
        )
        created = [
            run
            for run in runs
            if (run["start_date"], run["end_date"]) == (request.start_date, request.end_date)
            and datetime.fromisoformat(run["created_at"]) >= since
            and run["pipeline_logging_id"] not in request.run_ids
        ]
        if created:  # newest first: the one that POST made
            request.run_ids.append(created[0]["pipeline_logging_id"])
            self._refresh(request, created[0])
        request.submitting_since = None
        self.state.save()

    # --- submitting ---------------------------------------------------------------------------------------------

    def submit(self, request: Request) -> bool:
        """Send one run request; True when a run now holds it, False when the loop must wait (quota, outage)."""
        request.submitting_since = datetime.now(UTC).isoformat()
        self.state.save()  # before the POST: an interruption now is found again by reconcile()
        try:
            answer = self.api.submit(
                self.state.org, self.state.pipeline, request.start_date, request.end_date
            )
        except ApiRefusal as refusal:
            if refusal.status not in AMBIGUOUS_STATUSES:
                request.submitting_since = None  # the service answered a refusal: no run holds the request
                self.state.save()
            self._wait_after(refusal, request)
            return False
        if answer.run_id not in request.run_ids:
            request.run_ids.append(answer.run_id)
        request.status, request.submitting_since, request.error = answer.status, None, None
        request.rows = request.slices_done = request.slices_total = None
        self.unanswered = 0
        self.state.save()
        self.progress.submitted(request, duplicate=answer.duplicate)
        return True

    def _wait_after(self, refusal: ApiRefusal, request: Request) -> None:
        """Decide when to try again after a refused submission, or stop for good."""
        if not refusal.waitable:
            raise BackfillStopped(refusal.code, refusal.message)
        ours = sum(r.in_flight() for r in self.state.requests)
        if refusal.code == "CONCURRENCY_LIMIT_REACHED" and ours:
            # Our own runs hold the slots: send the next as soon as one of them settles.
            self.concurrency = ours
            self.progress.note(f"{request.label}: concurrency limit reached; waiting for a run to finish")
            return
        if refusal.status == 429:
            wait = refusal.retry_after if refusal.retry_after is not None else QUOTA_WAIT_SECONDS
            until = datetime.now(UTC) + timedelta(seconds=wait)
            self.progress.note(
                f"{request.label}: {refusal.code} ({refusal.message}); waiting {wait:.0f} s, until "
                f"{until:%Y-%m-%d %H:%M:%S} UTC (Ctrl-C and run the same command later to resume)"
            )
        else:
            self._count_unanswered(refusal)
            wait = refusal.retry_after if refusal.retry_after is not None else _backoff(self.unanswered)
            self.progress.note(f"{request.label}: {refusal.code}; retrying in {wait:.0f} s")
        self.not_before = self.clock() + wait

    def _count_unanswered(self, refusal: ApiRefusal) -> None:
        self.unanswered += 1
        if self.unanswered >= MAX_UNANSWERED:
            raise BackfillStopped(refusal.code, f"{refusal.message} ({self.unanswered} times in a row)")

    # --- awaiting ---------------------------------------------------------------------------------------------

    def poll(self, flying: list[Request]) -> None:
        """Read each run in flight once; a settled one frees the way for the next submission."""
        for request in flying:
            try:
                run = self.api.run(request.run_id)
            except ApiRefusal as refusal:
                if not refusal.waitable:
                    raise BackfillStopped(refusal.code, refusal.message) from None
                self._count_unanswered(refusal)
                return  # read again at the next poll
            self.unanswered = 0
            self._refresh(request, run)
            if not request.in_flight():
                self.progress.settled(request)
            else:
                self.progress.update(request)
        self.state.save()

    def _refresh(self, request: Request, run: dict) -> None:
        request.status = run["status"]
        request.rows = run.get("rows_written")
        request.slices_total, request.slices_done = run.get("slices_total"), run.get("slices_done")
        if request.status in ("FAILED", "CANCELLED"):
            request.error = (
                f"{run.get('error_code') or request.status}: {run.get('error_message') or ''}".strip()
            )

    def patiently(self, call: Callable[[], object]):
        """`call`, tried again while the API answers 429/5xx or not at all (bounded); a terminal 4xx stops."""
        attempt = 0
        while True:
            try:
                return call()
            except ApiRefusal as refusal:
                attempt += 1
                if not refusal.waitable or attempt >= MAX_UNANSWERED:
                    raise BackfillStopped(refusal.code, refusal.message) from None
                self.sleep(refusal.retry_after if refusal.retry_after is not None else _backoff(attempt))
