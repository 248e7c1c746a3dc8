"""SaaS plans over HTTP end to end: an org with no credential creates, changes (If-Match), lists, reads and ends
its plans, runs saas/cost/subscriptions through the run API, and finds its plans' days in cost_focus, exact.

Then `dps backfill` (the cheapest pipeline on the stack for it, in this module to spare the stack tier a
warehouse reset): 90 days for an org on the starter plan (one concurrent run) in two runs, the CLI interrupted
(SIGINT) once its first run is accepted and the second refused for want of a slot, then run again: it completes with
every date range run exactly once, no extra run, and a summary whose costs equal the org's cost_focus exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from shared.platform.settings import REPO_ROOT
from tests.kit.orgs import onboard
from tests.kit.runs import start_run, wait_for_run

SLACK = {
    "vendor": "Slack",
    "product": "Slack",
    "plan": "Business+",
    "seats": 10,
    "unit_price": "12.00",
    "currency": "USD",
    "billing_cycle": "monthly",
    "start_date": "2025-11-01",
}
FIGMA = {
    **SLACK,
    "vendor": "Figma",
    "product": "Figma",
    "plan": "Professional",
    "seats": 4,
    "unit_price": "180.00",
    "currency": "EUR",
    "billing_cycle": "annual",
    "start_date": "2025-01-15",
    "invoice_issuer": "SoftwareOne",
}


def _call(stack, org: dict, method: str, path: str = "", **kwargs) -> httpx.Response:
    url = f"{stack.api_url}/api/v1/subscriptions/{org['org_slug']}/saas{path}"
    headers = {"X-API-Key": org["api_key"], **kwargs.pop("headers", {})}
    return httpx.request(method, url, headers=headers, timeout=30, **kwargs)


def test_plans_over_http_become_exact_focus_rows(stack, settings, warehouse, new_org, monkeypatch, capsys):
    org, other = new_org(credential=False), new_org(credential=False)
    created = _call(stack, org, "POST", json=SLACK)
    assert created.status_code == 201, created.text
    plan_id = created.json()["subscription_id"]
    assert (created.json()["version"], created.headers["ETag"]) == (1, '"1"')
    # Money as a JSON number is refused, naming the field; so is a field plans do not have.
    assert (
        _call(stack, org, "POST", json={**SLACK, "unit_price": 12.0})
        .json()["error"]["message"]
        .startswith("unit_price")
    )
    assert _call(stack, org, "POST", json={**SLACK, "colour": "red"}).status_code == 422

    change = {"seats": 15, "effective_date": "2025-11-16"}
    changed = _call(stack, org, "PATCH", f"/{plan_id}", json=change, headers={"If-Match": '"1"'})
    assert changed.status_code == 200 and changed.json()["version"] == 2, changed.text
    stale = _call(stack, org, "PATCH", f"/{plan_id}", json={"seats": 20}, headers={"If-Match": '"1"'})
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "SAAS_PLAN_CONFLICT")

    # Two concurrent changes: with If-Match "2", one wins (version 3) and the other is refused; without
    # it, both are applied (versions 4 and 5: none lost).
    def patch(tags: dict, version: str | None = None) -> int:
        headers = {"If-Match": version} if version else {}
        return _call(stack, org, "PATCH", f"/{plan_id}", json={"tags": tags}, headers=headers).status_code

    with ThreadPoolExecutor(2) as pool:
        raced = sorted(pool.map(lambda n: patch({"n": str(n)}, '"2"'), range(2)))
        free = list(pool.map(lambda n: patch({"m": str(n)}), range(2)))
    assert raced == [200, 409] and free == [200, 200]
    assert _call(stack, org, "GET", f"/{plan_id}").json()["version"] == 5
    ended = _call(stack, org, "DELETE", f"/{plan_id}", json={"effective_date": "2025-12-01"})
    assert ended.status_code == 200 and ended.json()["versions"][-1]["change"] == "end"
    assert _call(stack, org, "POST", json=FIGMA).status_code == 201

    first = _call(stack, org, "GET", params={"limit": 1}).json()
    second = _call(stack, org, "GET", params={"limit": 1, "page_token": first["next_page_token"]}).json()
    assert (
        len(first["subscriptions"]) == len(second["subscriptions"]) == 1 and second["next_page_token"] is None
    )
    history = _call(stack, org, "GET", f"/{plan_id}").json()
    assert [v["change"] for v in history["versions"]] == ["create", *["change"] * 4, "end"]
    # Another org: its key on this org's path is 403, this plan under its own path is 404.
    wrong_key = _call(stack, {**org, "api_key": other["api_key"]}, "GET", f"/{plan_id}")
    assert (wrong_key.status_code, wrong_key.json()["error"]["code"]) == (403, "ORG_MISMATCH")
    assert _call(stack, other, "GET", f"/{plan_id}").status_code == 404

    body = {"start_date": "2025-11-01", "end_date": "2025-12-02"}
    run = wait_for_run(stack, org, start_run(stack, org, body, "saas/cost/subscriptions"))
    assert run["status"] == "COMPLETED", run
    table = warehouse.table_id(settings.org_dataset(org["org_slug"]), "cost_focus")
    rows = warehouse.query(f"SELECT * FROM `{table}`")
    slack = [r for r in rows if r["ProviderName"] == "Slack"]
    # November: 10 x 12.00 = 120.00 on Nov 1, + 5 x 12.00 x 15/30 = 30.00 on Nov 16; ended from Dec 1: no
    # December cycle. Amortised, the 30 days carry the same 150.00.
    assert sum(r["BilledCost"] for r in slack) == sum(r["EffectiveCost"] for r in slack) == Decimal("150.00")
    assert max(r["ChargePeriodStart"].date().isoformat() for r in slack) == "2025-11-30"
    figma = [r for r in rows if r["ProviderName"] == "Figma"]
    # Annual, invoiced Jan 15: 4 x 180.00 = 720.00 over 365 days, 1.97 a day (no invoice day in the window).
    assert {(r["BillingCurrency"], r["InvoiceIssuerName"], r["EffectiveCost"]) for r in figma} == {
        ("EUR", "SoftwareOne", Decimal("1.97"))
    }
    assert len(figma) == 32 and sum(r["BilledCost"] for r in figma) == 0

    # The admin CLI reads and writes the same store: a change through `dps saas change` is the API's next version.
    from shared.cli.main import main

    for name, value in stack.env().items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert (
        main(["saas", "change", org["org_slug"], plan_id, "--seats", "12", "--effective", "2025-12-03"]) == 0
    )
    assert main(["saas", "change", org["org_slug"], plan_id, "--seats", "9", "--if-version", "6"]) == 2
    assert "SAAS_PLAN_CONFLICT" in capsys.readouterr().err
    assert _call(stack, org, "GET", f"/{plan_id}").json()["version"] == 7


# --- dps backfill ---------------------------------------------------------------------------------------------

BACKFILL_PIPELINE = "saas/cost/subscriptions"
FIRST, LAST = "2025-08-01", "2025-10-29"  # 90 days
# --days-per-run 45: two runs, one at a time.
RANGES = [("2025-08-01", "2025-09-14"), ("2025-09-15", "2025-10-29")]
BACKFILL_PLANS = [
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
    for plan in BACKFILL_PLANS:  # straight into the store the API's POST .../saas writes (tested above)
        create_plan(control_db(settings), org["org_slug"], plan)
    return org


def _backfill(stack, org: dict, state, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DPS_API_URL": stack.api_url, "ORG_API_KEY": org["api_key"]}
    env.pop("GCP_PROJECT_ID", None)
    argv = [
        "backfill",
        org["org_slug"],
        BACKFILL_PIPELINE,
        "--from",
        FIRST,
        "--to",
        LAST,
        "--days-per-run",
        "45",
    ]
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
        params={"pipeline": BACKFILL_PIPELINE, "limit": 100},
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
    # Progress lines: interrupt once the first run is accepted and the second refused with a 429 it waits out.
    for line in first.stderr:
        lines.append(line)
        if "concurrency limit reached; waiting for a run to finish" in line:
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
    assert "backfill: resuming: " in err  # from the state file the interrupted process left
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
    # Slack is invoiced on the 10th (Aug, Sep, Oct: 3 x 7 x 12.50); Figma's annual invoice (Mar 1) is outside.
    billed = {
        (c["provider_name"], c["billing_currency"]): c["billed_cost"] for c in summary["cost_by_provider"]
    }
    assert {key: Decimal(value) for key, value in billed.items()} == {
        ("Figma", "EUR"): 0,
        ("Slack", "USD"): Decimal("262.50"),
    }
    assert summary["rows_written"] > 0 and summary["failures"] == []
