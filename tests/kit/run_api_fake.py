"""An in-memory run API for the backfill's unit tests, served through httpx.MockTransport: run requests under a
concurrency limit (429 CONCURRENCY_LIMIT_REACHED with Retry-After), duplicates of runs in flight (200), runs that
settle after a few reads, scripted refusals and failures, the runs listing and each run's costs."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx


@dataclass
class FakeRun:
    run_id: str
    start_date: str
    end_date: str
    status: str = "PENDING"
    reads: int = 0
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    error_code: str | None = None


@dataclass
class FakeRunApi:
    """The service side: `runs` in creation order; `refusals` answered to the next POSTs first; `fail` the date
    ranges whose next run FAILS (one entry per failure); a run settles on its `reads_to_settle`th read."""

    concurrent_runs: int = 1
    reads_to_settle: int = 2
    slices: int | None = None
    runs: list[FakeRun] = field(default_factory=list)
    refusals: list[tuple[int, str, dict]] = field(default_factory=list)  # (status, code, headers)
    fail: list[tuple[str, str]] = field(default_factory=list)
    posts: int = 0
    # The next POST creates its run, then its answer is lost: "interrupt" (the caller's Ctrl-C) or "timeout".
    lose_answer: str | None = None

    def client(self):
        from shared.backfill.client import RunApi

        return RunApi("http://api.test", "dpsk_test", transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["X-API-Key"] == "dpsk_test"
        path = request.url.path
        if request.method == "POST":
            answer = self._post(json.loads(request.content))
            lost, self.lose_answer = self.lose_answer, None
            if lost == "interrupt" and answer.status_code == 202:
                raise KeyboardInterrupt  # the run exists, its answer never reaches the caller
            if lost == "timeout" and answer.status_code == 202:
                # Done by the time the caller looks: no duplicate guard would catch a resend.
                self.runs[-1].status = "COMPLETED"
                raise httpx.ReadTimeout("no answer in time", request=request)
            return answer
        if path == "/api/v1/pipelines/runs":
            return self._list(request.url.params)
        run_id = path.split("/")[5]
        run = next((r for r in self.runs if r.run_id == run_id), None)
        if run is None:
            return _error(404, "RUN_NOT_FOUND")
        if path.endswith("/costs"):
            return httpx.Response(
                200, json={"pipeline_logging_id": run_id, "status": run.status, "costs": []}
            )
        return httpx.Response(200, json=self._read(run))

    def _post(self, body: dict) -> httpx.Response:
        self.posts += 1
        if self.refusals:
            status, code, headers = self.refusals.pop(0)
            return _error(status, code, headers)
        dates = (body["start_date"], body["end_date"])
        same = [
            r for r in self.runs if (r.start_date, r.end_date) == dates and r.status in ("PENDING", "RUNNING")
        ]
        answer = {"start_date": dates[0], "end_date": dates[1], "org_slug": "acme"}
        if same:
            return httpx.Response(200, json={**answer, "pipeline_logging_id": same[0].run_id,
                                             "status": same[0].status, "duplicate": True})  # fmt: skip
        if sum(r.status in ("PENDING", "RUNNING") for r in self.runs) >= self.concurrent_runs:
            return _error(429, "CONCURRENCY_LIMIT_REACHED", {"Retry-After": "30"})
        run = FakeRun(str(uuid.uuid4()), *dates)
        self.runs.append(run)
        return httpx.Response(202, json={**answer, "pipeline_logging_id": run.run_id, "status": "PENDING",
                                         "duplicate": False})  # fmt: skip

    def _read(self, run: FakeRun) -> dict:
        run.reads += 1
        if run.status in ("PENDING", "RUNNING"):
            run.status = "RUNNING"
            if run.reads >= self.reads_to_settle:
                dates = (run.start_date, run.end_date)
                if dates in self.fail:
                    self.fail.remove(dates)
                    run.status, run.error_code = "FAILED", "PROVIDER_UNAVAILABLE"
                else:
                    run.status = "COMPLETED"
        done = self.slices if run.status == "COMPLETED" else 0
        return {
            "pipeline_logging_id": run.run_id,
            "status": run.status,
            "start_date": run.start_date,
            "end_date": run.end_date,
            "rows_written": 10 if run.status == "COMPLETED" else None,
            "slices_total": self.slices,
            "slices_done": done if self.slices else None,
            "error_code": run.error_code,
            "error_message": "the provider answered 503" if run.error_code else None,
            "created_at": run.created_at,
        }

    def _list(self, params) -> httpx.Response:
        first, last = params["start_date"], params["end_date"]
        listed = [
            {"pipeline_logging_id": r.run_id, "start_date": r.start_date, "end_date": r.end_date,
             "status": r.status, "created_at": r.created_at}
            for r in reversed(self.runs)
            if r.start_date <= last and r.end_date >= first
        ]  # fmt: skip
        return httpx.Response(200, json={"runs": listed, "next_page_token": None})


def _error(status: int, code: str, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": f"{code} (fake)"}}, headers=headers
    )
