"""`dps backfill` against a real local stack: 90 days for an org on the starter plan (one concurrent run) in two
runs, the CLI interrupted (SIGINT) once its first run is accepted and the second refused for want of a slot, then run
again: it completes with every date range run exactly once, no extra run, and a summary whose costs equal the org's
cost_focus to the last decimal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal

import httpx
import pytest

from shared.platform.settings import REPO_ROOT
from tests.kit.orgs import onboard

pytestmark = pytest.mark.stack

PIPELINE = "saas/cost/subscriptions"
FIRST, LAST = "2025-08-01", "2025-10-29"  # 90 days
RANGES = [
    ("2025-08-01", "2025-09-14"),
    ("2025-09-15", "2025-10-29"),
]  # --days-per-run 45: two runs, one at a time
PLANS = [
    {"vendor": "Slack", "product": "Slack", "plan": "Business+", "seats": 7, "unit_price": "12.50",
     "currency": "USD", "billing_cycle": "monthly", "start_date": "2025-06-10"},
    {"vendor": "Figma", "product": "Figma", "plan": "Professional", "seats": 3, "unit_price": "144.00",
     "currency": "EUR", "billing_cycle": "annual", "start_date": "2025-03-01"},
]  # fmt: skip
CLI = "import sys; from shared.cli.main import main; sys.exit(main())"


@pytest.fixture(scope="module")
def starter_org(settings):
    """An org on the starter plan (concurrent_runs 1 in configs/plans.yml) with two SaaS plans, two currencies."""
    from shared.runs.control import control_db
    from shared.saas.plans import create_plan

    org = onboard(settings, plan="starter", credential=False, prefix="bf")
    for (
        plan
    ) in PLANS:  # straight into the store the API's POST .../saas writes (test_saas_api.py tests the route)
        create_plan(control_db(settings), org["org_slug"], plan)
    return org


def _backfill(stack, org: dict, state, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DPS_API_URL": stack.api_url, "ORG_API_KEY": org["api_key"]}
    env.pop("GCP_PROJECT_ID", None)
    argv = ["backfill", org["org_slug"], PIPELINE, "--from", FIRST, "--to", LAST, "--days-per-run", "45"]
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "--json", *argv, "--state", str(state), "--poll-seconds", "0.5", *extra],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _runs(stack, org: dict) -> list[dict]:
    answer = httpx.get(
        f"{stack.api_url}/api/v1/pipelines/runs",
        params={"pipeline": PIPELINE, "limit": 100},
        headers={"X-API-Key": org["api_key"]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["runs"]


def test_an_interrupted_backfill_resumes_to_each_range_once(
    stack, settings, warehouse, starter_org, tmp_path
):
    state = tmp_path / "backfill.json"
    first = _backfill(stack, starter_org, state)
    lines = []
    for line in first.stderr:  # progress lines: interrupt once the first run is accepted and the second waits
        lines.append(line)
        if (
            "concurrency limit reached; waiting for a run to finish" in line
        ):  # a 429, waited out, not a failure
            first.send_signal(signal.SIGINT)
            break
    out, err = first.communicate(timeout=60)
    assert first.returncode == 130, "".join(lines) + err
    interrupted = json.loads(out)
    assert interrupted["outcome"] == "INTERRUPTED" and interrupted["runs_submitted"] == 1, interrupted
    assert "run the same command again to resume" in err

    second = _backfill(stack, starter_org, state)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    summary = json.loads(out)
    assert (summary["outcome"], summary["days_loaded"], summary["runs_submitted"]) == ("COMPLETED", 90, 2)

    runs = _runs(stack, starter_org)
    assert sorted((r["start_date"], r["end_date"], r["status"]) for r in runs) == [
        (*dates, "COMPLETED") for dates in RANGES
    ]
    assert {r["pipeline_logging_id"] for r in runs} == {r["run_id"] for r in summary["runs"]}

    table = warehouse.table_id(settings.org_dataset(starter_org["org_slug"]), "cost_focus")
    focus = warehouse.query(
        f"SELECT ProviderName, BillingCurrency, COUNT(*) AS n, SUM(BilledCost) AS billed, "
        f"SUM(EffectiveCost) AS effective FROM `{table}` GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert [
        (c["provider_name"], c["billing_currency"], c["rows"], Decimal(c["billed_cost"]),
         Decimal(c["effective_cost"]))
        for c in summary["cost_by_provider"]
    ] == [(f["ProviderName"], f["BillingCurrency"], f["n"], f["billed"], f["effective"]) for f in focus]  # fmt: skip
    assert {c["billing_currency"] for c in summary["cost_by_provider"]} == {"USD", "EUR"}
    assert summary["rows_written"] > 0 and summary["failures"] == []
