"""The public run API as a backfill calls it, with an org's key: submit a run, read one, list runs, read a run's
costs. Every refusal is an ApiRefusal saying whether waiting can help (429, 503, no answer) or not (other 4xx)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

WAITABLE_STATUSES = (429, 502, 503, 504)
REQUEST_TIMEOUT_SECONDS = 60.0


class ApiRefusal(Exception):
    """The API refused (or did not answer) a call: its status (0 = no answer), error code, message, Retry-After."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after

    @property
    def waitable(self) -> bool:
        """True when the same call can succeed later (a quota, an overloaded or unreachable service)."""
        return self.status in WAITABLE_STATUSES or self.status == 0


@dataclass(frozen=True)
class Submitted:
    """The API's answer to a run request: the run's id and status, and whether it was already in flight."""

    run_id: str
    status: str
    duplicate: bool


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # absent, or an HTTP date (the service sends seconds): the caller backs off


class RunApi:
    """Calls of the run API with one org's key (sent as X-API-Key, never logged)."""

    def __init__(self, base_url: str, api_key: str, transport: httpx.BaseTransport | None = None):
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"X-API-Key": api_key},
            timeout=REQUEST_TIMEOUT_SECONDS,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ApiRefusal(0, "API_UNREACHABLE", f"{type(error).__name__} calling {path}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            error = (body or {}).get("error") if isinstance(body, dict) else None
            code = error.get("code", "HTTP_ERROR") if isinstance(error, dict) else "HTTP_ERROR"
            message = error.get("message", "") if isinstance(error, dict) else response.text[:200]
            status = response.status_code if response.status_code >= 400 else 502  # 2xx but no JSON object
            raise ApiRefusal(status, code, message, _retry_after(response))
        return body

    def submit(self, org: str, pipeline: str, start: str, end: str) -> Submitted:
        """POST one run request for [start, end]; 202 new or 200 duplicate (the run already in flight)."""
        body = {"start_date": start, "end_date": end, "trigger_by": "dps backfill"}
        answer = self._call("POST", f"/api/v1/pipelines/run/{org}/{pipeline}", json=body)
        return Submitted(answer["pipeline_logging_id"], answer["status"], bool(answer.get("duplicate")))

    def run(self, run_id: str) -> dict:
        """One run of the org (status, rows_written, slices_done/slices_total, error_code/error_message)."""
        return self._call("GET", f"/api/v1/pipelines/runs/{run_id}")

    def runs_for(self, pipeline: str, start: str, end: str) -> list[dict]:
        """The org's runs of `pipeline` whose dates overlap [start, end], newest first (every page)."""
        params: dict = {"pipeline": pipeline, "start_date": start, "end_date": end, "limit": 100}
        runs: list[dict] = []
        while True:
            page = self._call("GET", "/api/v1/pipelines/runs", params=params)
            runs += page["runs"]
            if not page.get("next_page_token"):
                return runs
            params["page_token"] = page["next_page_token"]

    def costs(self, run_id: str) -> list[dict]:
        """What the run loaded into the org's cost_focus, per provider and currency (decimal strings)."""
        return self._call("GET", f"/api/v1/pipelines/runs/{run_id}/costs")["costs"]
