"""Crash points: a worker killed mid-run leaves a run the reaper settles and a re-run completes exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from shared.platform.settings import REPO_ROOT
from shared.runs.reaper import reap_stuck_runs
from shared.runs.run_log import RunLog
from shared.worker.crash_points import CRASH_ENV, EXECUTED, EXTRACTED
from tests.e2e.faultkit import DAY, USAGE_COSTS
from tests.kit.runs import deliver, event_for, reserve, running_slots, worker_deps
from tests.kit.totals import sandbox_costs, sandbox_usage, table_costs, table_usage

# The body of a provider function, run as its own process so that it can die as a killed instance does.
WORKER = """
import json, sys
from shared.platform import clients
from shared.platform.settings import get_settings
from shared.providers.openai import PROVIDER
from shared.worker.entry import WorkerDeps, handle_run_event
deps = WorkerDeps(get_settings(), clients.warehouse(), clients.kms_client())
print(handle_run_event(json.loads(sys.argv[1]), PROVIDER, deps))
"""


def _crashing_worker(settings, event, point) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONFIG_DIR": str(settings.config_dir), CRASH_ENV: point}
    return subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(event)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,  # the exit status is what the test is about
    )


@pytest.mark.parametrize(
    ("point", "loaded_before_the_crash", "day"),
    [
        # Days no other test loads, so what the crash left behind is visible.
        (f"{EXTRACTED}:costs", {"usage"}, DAY + timedelta(days=1)),  # usage loaded, costs pulled, not loaded
        (EXECUTED, {"usage", "costs"}, DAY + timedelta(days=2)),  # all loaded, the run never marked COMPLETED
    ],
)
def test_a_killed_worker_is_reaped_and_a_rerun_completes_exactly(
    point, loaded_before_the_crash, day, stack, short_settings, warehouse, kms, tenant
):
    slug, run_log = tenant["org_slug"], RunLog(warehouse, short_settings)
    crashed = reserve(short_settings, warehouse, slug, day, USAGE_COSTS)

    worker = _crashing_worker(short_settings, event_for(crashed), point)

    assert worker.returncode == 137, worker.stdout + worker.stderr
    assert run_log.status(slug, crashed.pipeline_logging_id) == "RUNNING"  # stuck: nobody will settle it
    assert running_slots(short_settings, warehouse, slug) == 1
    steps = run_log.step_logs(slug, crashed.pipeline_logging_id)
    assert {s["step_id"] for s in steps if s["status"] == "COMPLETED"} <= loaded_before_the_crash
    assert (table_usage(short_settings, warehouse, slug, day)[0] > 0) == ("usage" in loaded_before_the_crash)
    assert (table_costs(short_settings, warehouse, slug, day)[0] > 0) == ("costs" in loaded_before_the_crash)

    # The reaper, run as if its timeout had passed, fails the run and gives its slot back.
    reaped = reap_stuck_runs(warehouse, short_settings, now=datetime.now(UTC) + timedelta(hours=2))
    assert crashed.pipeline_logging_id in reaped["pipeline_logging_ids"]
    row = run_log.get(slug, crashed.pipeline_logging_id)
    assert (row["status"], row["error_code"]) == ("FAILED", "RUN_TIMEOUT")
    assert running_slots(short_settings, warehouse, slug) == 0

    # A re-run of the same day replaces what the crashed run left: exact totals, one copy, no slot held.
    rerun = reserve(short_settings, warehouse, slug, day, USAGE_COSTS)
    assert deliver(event_for(rerun, "m-rerun"), worker_deps(short_settings, warehouse, kms), 1) == [
        "completed"
    ]
    assert table_costs(short_settings, warehouse, slug, day) == sandbox_costs(stack, day)
    assert table_usage(short_settings, warehouse, slug, day) == sandbox_usage(stack, day)
    assert running_slots(short_settings, warehouse, slug) == 0
