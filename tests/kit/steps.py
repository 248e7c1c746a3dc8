"""Step contexts and settings for tests that run providers' steps without the stack (golden and suite tests)."""

from __future__ import annotations

import time
from datetime import date

from shared.platform.settings import Settings, settings_from_env
from shared.providers.contract import Credential, StepContext

BASE_ENV = {
    "GCP_PROJECT_ID": "golden-project",
    "KMS_KEY_NAME": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
}
PROD_ENV = {**BASE_ENV, "ENVIRONMENT": "prod", "CA_ROOT_API_KEY": "r" * 32, "API_KEY_PEPPER": "p" * 32}


def offline_settings(env: dict | None = None, **overrides: str) -> Settings:
    """Settings from BASE_ENV (local, no stand-in), `env` replacing it, plus variables as keyword arguments."""
    return settings_from_env({**(env or BASE_ENV), **overrides})


def step_context(
    provider: str,
    start: date,
    end: date,
    secret: str,
    *,
    metadata: dict | None = None,
    settings: Settings | None = None,
    transport=None,
    run_id: str = "run_golden_0001",
    org_slug: str = "acmecorp",
    seconds: float = 30,
    **options,
) -> StepContext:
    """A StepContext for one step of `provider` over [start, end], with `transport` as its HTTP (a MockTransport
    of recorded pages or faults) and no waiting between retries."""
    return StepContext(
        org_slug=org_slug,
        run_id=run_id,
        start_date=start,
        end_date=end,
        credential=Credential(provider, secret, metadata or {}),
        settings=settings or offline_settings(),
        deadline=time.monotonic() + seconds,
        http_transport=transport,
        sleep=options.pop("sleep", lambda seconds: None),
        **options,
    )


class StepRecorder:
    """A run log that keeps the executor's step attempts in memory: (step_id, attempt, status, error code)."""

    def __init__(self):
        self.steps: list[tuple[str, int, str, str | None]] = []

    def log_step(self, org_slug, run_id, *, step_id, attempt, status, error_code=None, **kw) -> None:
        self.steps.append((step_id, attempt, status, error_code))


class SliceRecorder:
    """A warehouse that keeps the executor's slice loads in memory: (dataset, table, rows, start, end)."""

    def __init__(self):
        self.loads = []

    def replace_slice(self, dataset, spec, rows, start, end):
        self.loads.append((dataset, spec.name, list(rows), start, end))
        return len(rows)


class Clock:
    """A monotonic clock that advances only by what `sleep` is asked for: backoff is asserted exactly."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
