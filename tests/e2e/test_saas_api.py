"""SaaS plans over HTTP end to end: an org with no credential creates, changes (If-Match), lists, reads and ends
its plans, runs saas/cost/subscriptions through the run API, and finds its plans' days in cost_focus, exact."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx

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
