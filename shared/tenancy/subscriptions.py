"""Subscriptions: the plans on offer with their limits (configs/plans.yml), the statuses, which may run."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

PLANS_FILE = "plans.yml"
SUBSCRIPTION_STATUSES = ("ACTIVE", "TRIAL", "SUSPENDED", "CANCELLED", "PAST_DUE")
RUNNABLE_STATUSES = ("ACTIVE", "TRIAL")
# The error code that refuses runs for each status that may not run; any other (or none) is INACTIVE.
_REFUSAL_CODES = {
    "SUSPENDED": "SUBSCRIPTION_SUSPENDED",
    "CANCELLED": "SUBSCRIPTION_CANCELLED",
    "PAST_DUE": "SUBSCRIPTION_PAST_DUE",
}


@dataclass(frozen=True)
class PlanLimits:
    """Limits of one plan; None means unlimited."""

    daily_runs: int | None
    monthly_runs: int | None
    concurrent_runs: int | None
    requests_per_minute: int | None


@functools.cache
def load_plans(config_dir: Path) -> dict[str, PlanLimits]:
    """configs/plans.yml, keyed by plan name: the only list of plans."""
    raw = yaml.safe_load((Path(config_dir) / PLANS_FILE).read_text())
    return {name: PlanLimits(**limits) for name, limits in raw.items()}


def subscription_refusal(status: str | None) -> str | None:
    """The error code refusing runs for a subscription in `status`, or None when it may run (ACTIVE, TRIAL)."""
    if status in RUNNABLE_STATUSES:
        return None
    return _REFUSAL_CODES.get(status or "", "SUBSCRIPTION_INACTIVE")
