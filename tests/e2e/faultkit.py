"""The fault, delivery and crash tests' own pipelines: the production steps cut down to one or two, so that each
fault costs a step or two of warehouse work, not six. Runs, orgs and totals come from tests/kit."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

from shared.platform.settings import DEFAULT_CONFIG_DIR, Settings

DAY = date(2025, 11, 3)
_RETRY = "{max_attempts: 3, initial_backoff_seconds: 1, max_backoff_seconds: 30}"
SHORT_PIPELINES = {
    "costs_only": ["costs: openai.costs -> openai_costs_daily"],
    "usage_costs": [
        "usage: openai.usage_completions -> openai_usage_daily",
        "costs: openai.costs -> openai_costs_daily",
    ],
}
COSTS_ONLY = "openai/cost/costs_only"
USAGE_COSTS = "openai/cost/usage_costs"


def _pipeline_yaml(name: str, steps: list[str]) -> str:
    lines = [f"pipeline_id: openai/cost/{name}", "provider: openai", "domain: cost", f"pipeline: {name}"]
    lines += ["timeout_seconds: 900", "steps:"]
    previous: list[str] = []
    for spec in steps:
        step_id, rest = spec.split(": ", 1)
        ps_type, table = rest.split(" -> ")
        lines += [
            f"  - {{step_id: {step_id}, ps_type: {ps_type}, destination_table: {table},",
            f"     depends_on: [{', '.join(previous)}], timeout_seconds: 300, retry: {_RETRY}}}",
        ]
        previous = [step_id]
    return "\n".join(lines) + "\n"


def short_config_dir(root: Path) -> Path:
    """A copy of configs/ plus the short pipelines openai/cost/costs_only and openai/cost/usage_costs."""
    target = root / "configs"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    for name, steps in SHORT_PIPELINES.items():
        (target / "pipelines" / "openai" / "cost" / f"{name}.yml").write_text(_pipeline_yaml(name, steps))
    return target


def with_config_dir(settings: Settings, config_dir: Path) -> Settings:
    """The stack's settings reading pipelines from `config_dir`."""
    return replace(settings, config_dir=config_dir)
