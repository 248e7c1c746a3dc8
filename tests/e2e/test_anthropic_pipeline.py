"""HTTP run request in, rows out: the Anthropic pipeline end to end (Pub/Sub, worker, KMS, sandbox, BigQuery)."""

import json
from decimal import Decimal

import httpx
import pytest

from shared.tenancy import onboarding
from tests.focus_conformance import violations
from tests.kit.runs import start_run, wait_for_run

PIPELINE = "anthropic/cost/usage_cost"
START, END = "2025-11-03", "2025-11-05"
SECRET = "sk-ant-admin01-e2e-test-secret"


def _org(settings, new_org, metadata=None):
    org = new_org(credential=False)
    onboarding.set_credential(settings, org["org_slug"], "anthropic", SECRET, metadata or {})
    return org


def _start_run(stack, org):
    return start_run(stack, org, {"start_date": START, "end_date": END}, PIPELINE)


def _sandbox_billed_total(stack):
    """What the provider bills for the range, read straight from the sandbox: cents / 100, exact."""
    body = httpx.get(
        f"{stack.sandbox_url}/v1/organizations/cost_report",
        params={"starting_at": f"{START}T00:00:00Z", "ending_at": "2025-11-06T00:00:00Z", "limit": 31},
        headers={"x-api-key": SECRET, "anthropic-version": "2023-06-01"},
        timeout=10,
    ).text
    data = json.loads(body, parse_float=Decimal)
    assert not data["has_more"]
    return sum(Decimal(r["amount"]) for b in data["data"] for r in b["results"]) / 100


def _facts(warehouse, settings, slug):
    ds = f"{settings.project}.{settings.org_dataset(slug)}"
    one = lambda sql: warehouse.query(sql)[0]
    return (
        one(f"SELECT COUNT(*) AS n, SUM(uncached_input_tokens) AS t FROM `{ds}.anthropic_usage_daily`"),
        one(f"SELECT COUNT(*) AS n, SUM(amount) AS s FROM `{ds}.anthropic_costs_daily`"),
        one(f"SELECT COUNT(*) AS n, SUM(estimated_cost) AS s FROM `{ds}.llm_cost_estimates`"),
        one(
            f"SELECT COUNT(*) AS n, SUM(BilledCost) AS s FROM `{ds}.cost_focus` WHERE ProviderName = 'Anthropic'"
        ),
    )


def test_run_end_to_end_reconciles_and_a_rerun_leaves_one_copy(stack, settings, warehouse, new_org):
    org = _org(settings, new_org)
    slug = org["org_slug"]
    run = wait_for_run(stack, org, _start_run(stack, org))
    assert run["status"] == "COMPLETED", run
    assert [s["step_id"] for s in run["steps"]] == ["usage", "costs", "prices", "estimate", "focus"]
    usage, costs, _, focus = first = _facts(warehouse, settings, slug)
    assert usage["n"] > 0 and costs["n"] > 0
    assert costs["s"] == focus["s"] == _sandbox_billed_total(stack)  # to the last decimal, never float

    ds = f"{settings.project}.{settings.org_dataset(slug)}"
    view = warehouse.query(f"SELECT * FROM `{ds}.llm_cost_reconciliation` ORDER BY day")
    assert [str(r["day"]) for r in view] == ["2025-11-03", "2025-11-04", "2025-11-05"]
    # The sandbox bills at the prices of configs/prices/llm_prices.yml: estimated = billed, every day. Its Priority
    # Tier usage has no list price and no line in the cost report: reported unpriced, by tier, and costs nothing.
    assert all(r["difference"] == 0 and r["billed_cost"] > 0 for r in view)
    unpriced = {m for r in view for m in (r["unpriced_models"] or "").split(", ") if m}
    assert unpriced and all(m.endswith(" (service_tier priority)") for m in unpriced)
    statuses = {
        s["status"]: s["billed"]
        for s in warehouse.query(
            f"SELECT status, COUNT(billed_cost) AS billed FROM `{ds}.llm_cost_estimates` GROUP BY status"
        )
    }
    assert set(statuses) == {"priced", "unpriced"} and statuses["unpriced"] == 0  # nothing billed unpriced
    geos = warehouse.query(f"SELECT DISTINCT inference_geo FROM `{ds}.anthropic_costs_daily`")
    assert {g["inference_geo"] for g in geos} >= {"not_available"}
    windows = warehouse.query(
        f"SELECT DISTINCT model FROM `{ds}.anthropic_usage_daily` WHERE context_window = '200k-1M'"
    )
    assert "claude-sonnet-4-20250514" in {w["model"] for w in windows}  # Sonnet 4's long context, priced

    rows = warehouse.query(f"SELECT * FROM `{ds}.cost_focus` WHERE ProviderName = 'Anthropic'")
    assert violations(rows) == {}
    assert {r["ServiceCategory"] for r in rows} == {"AI and Machine Learning"}
    assert "default" in {r["SubAccountId"] for r in rows}  # the default workspace, kept and labelled
    labels = warehouse.query(f"SELECT DISTINCT api_key_label FROM `{ds}.anthropic_usage_daily`")
    assert "console" in {r["api_key_label"] for r in labels}

    again = wait_for_run(stack, org, _start_run(stack, org))
    assert again["status"] == "COMPLETED"
    assert _facts(warehouse, settings, slug) == first  # replaced, not added


def test_a_credential_base_url_is_checked_against_the_allow_list(stack, settings, new_org):
    org = new_org(credential=False)
    with pytest.raises(onboarding.AdminError, match="base_url"):
        onboarding.set_credential(
            settings, org["org_slug"], "anthropic", SECRET, {"base_url": "http://evil.example.com"}
        )
    org = _org(settings, new_org, {"base_url": stack.sandbox_url})  # loopback is allowed locally
    run = wait_for_run(stack, org, _start_run(stack, org))
    assert run["status"] == "COMPLETED", run


def test_a_rejected_admin_key_fails_the_run_with_a_stable_code_and_no_secret(stack, settings, new_org):
    org = new_org(credential=False)
    onboarding.set_credential(settings, org["org_slug"], "anthropic", "sk-ant-api03-not-an-admin-key")
    run = wait_for_run(stack, org, _start_run(stack, org))
    assert run["status"] == "FAILED" and run["error_code"] == "PROVIDER_AUTH_FAILED"
    assert "not-an-admin-key" not in json.dumps(run)
