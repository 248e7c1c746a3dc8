"""Pipeline configs (configs/pipelines/<provider>/<domain>/<pipeline>.yml), validated strictly on load."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class RetryPolicy(BaseModel):
    """How often a step is attempted and how long to wait between attempts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_attempts: int = Field(3, ge=1, le=10)
    initial_backoff_seconds: float = Field(1.0, ge=0)
    max_backoff_seconds: float = Field(30.0, ge=0)


class StepConfig(BaseModel):
    """One step: a processor (ps_type) whose rows replace a slice of a destination table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    step_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    ps_type: str = Field(pattern=r"^[a-z]+\.[a-z0-9_]+$")
    destination_table: str
    depends_on: tuple[str, ...] = ()
    timeout_seconds: float = Field(300, gt=0)
    retry: RetryPolicy = RetryPolicy()


class ScheduleConfig(BaseModel):
    """When the pipeline runs by itself: a unix-cron in an IANA time zone, each firing for one day.

    Terraform turns this block into the pipeline's Cloud Scheduler job, so the config is the only place a
    schedule is written down.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    cron: str
    time_zone: str = "UTC"
    date: Literal["yesterday", "today"] = "yesterday"  # which day, in `time_zone`, a firing runs

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from shared.scheduling.cron import check_cron

        return check_cron(value)

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        from shared.scheduling.cron import check_time_zone

        return check_time_zone(value)


class PipelineConfig(BaseModel):
    """A pipeline: identity, request limits, the run's time budget, its schedule and its steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pipeline_id: str
    provider: str
    domain: str
    pipeline: str
    description: str = ""
    max_range_days: int = Field(90, ge=1, le=366)
    timeout_seconds: float = Field(900, gt=0)
    # Days one delivery loads at most: a run whose window spans more is fanned out into slices of this many days,
    # each its own message (None: always one delivery, split only if it runs out of time).
    slice_days: int | None = Field(None, ge=1, le=366)
    schedule: ScheduleConfig | None = None  # None: the pipeline runs only when asked over the API
    # False: its provider reads only records the org keeps in this service (Provider.needs_credential, which the
    # provider suite checks this against): runs and schedules need no stored credential. Read here so the api
    # function decides without importing providers.
    needs_credential: bool = True
    steps: tuple[StepConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_steps(self) -> PipelineConfig:
        if self.pipeline_id != f"{self.provider}/{self.domain}/{self.pipeline}":
            raise ValueError("pipeline_id must be provider/domain/pipeline")
        ids = [step.step_id for step in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step_id values must be unique")
        for step in self.steps:
            unknown = set(step.depends_on) - set(ids)
            if unknown:
                raise ValueError(f"step {step.step_id} depends on unknown steps {sorted(unknown)}")
        ordered_steps(self.steps)  # raises on a cycle
        return self


def ordered_steps(steps: tuple[StepConfig, ...]) -> list[StepConfig]:
    """Steps in an order where every step comes after what it depends on; ValueError on a cycle."""
    done: list[StepConfig] = []
    pending = list(steps)
    while pending:
        ready = [s for s in pending if set(s.depends_on) <= {d.step_id for d in done}]
        if not ready:
            raise ValueError(f"steps {[s.step_id for s in pending]} form a dependency cycle")
        done.extend(ready)
        pending = [s for s in pending if s not in ready]
    return done


@functools.cache
def load_pipelines(config_dir: Path) -> dict[str, PipelineConfig]:
    """Every pipeline config under configs/pipelines, keyed by pipeline_id."""
    configs = {}
    for path in sorted((Path(config_dir) / "pipelines").glob("*/*/*.yml")):
        config = PipelineConfig.model_validate(yaml.safe_load(path.read_text()))
        expected = "/".join(path.relative_to(Path(config_dir) / "pipelines").with_suffix("").parts)
        if config.pipeline_id != expected:
            raise ValueError(f"{path}: pipeline_id {config.pipeline_id!r} does not match its path")
        configs[config.pipeline_id] = config
    return configs


def scheduled_pipelines(config_dir: Path) -> dict[str, PipelineConfig]:
    """The pipelines that carry a schedule, keyed by pipeline_id (any config with one is picked up)."""
    return {pid: config for pid, config in load_pipelines(config_dir).items() if config.schedule is not None}
