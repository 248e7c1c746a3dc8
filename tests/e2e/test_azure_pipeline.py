"""HTTP run request in, rows out: the Azure cost export pipeline end to end on the local stack (Azurite, the azure
function), onboarded with `dps credential set ORG azure --metadata ...` and no secret."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest

from devstack.providers.azure.export import bulk_batches, rows_table, sample_rows
from devstack.providers.azure.layout import ExportLocation, local_container, write_run
from shared.tenancy import onboarding
from tests.focus_conformance import violations
from tests.kit.runs import start_run, wait_for_run

METADATA = {
    "storage_account": "e2ecostexports",
    "container": "e2e-exports",
    "directory": "exports/focus",
    "export_name": "e2e-focus-daily",
    "tenant_id": "72f988bf-0000-4000-8000-00000000e2e0",
    "client_id": "0c5a7b2e-0000-4000-8000-00000000e2e1",
}
NOVEMBER = date(2025, 11, 1)


@pytest.fixture
def azure_org(stack, settings, new_org):
    """An org whose November export run (the sample charges and 3 days × 40 usage rows) is in Azurite, onboarded
    for Azure through the CLI without a secret file."""
    org = new_org()
    container = local_container(settings.storage_endpoint("azure"), METADATA["container"])
    batches = [*rows_table(sample_rows(NOVEMBER)).to_batches(), *bulk_batches(NOVEMBER, 3, 40)]
    files = [batches]
    write_run(container, ExportLocation.of(METADATA), NOVEMBER, files, run_id="e2e-run-1",
              submitted="2025-11-04T06:00:00Z", overwrite=True)  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "devstack.cli", "credential", "set", org["org_slug"], "azure",
         "--metadata", json.dumps(METADATA)],
        env={**stack.env(), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    totals: dict[str, Decimal] = {}  # what the export bills per currency, summed from the rows written
    for batch in batches:
        for currency, cost in zip(batch["BillingCurrency"].to_pylist(), batch["BilledCost"].to_pylist()):
            totals[currency] = totals.get(currency, Decimal(0)) + cost
    return {**org, "totals": totals}


def test_azure_run_over_http_loads_the_export_once(stack, settings, warehouse, azure_org):
    body = {"start_date": "2025-11-02", "end_date": "2025-11-03"}
    run = wait_for_run(stack, azure_org, start_run(stack, azure_org, body, "azure/cost/billing"), timeout=120)
    assert run["status"] == "COMPLETED", (run.get("error_code"), run.get("error_message"))
    # The window is October (still restatable) and November, fanned out by 7 charge days.
    assert run["slices_total"] == run["slices_done"] == 9
    table = f"{settings.project}.{settings.org_dataset(azure_org['org_slug'])}.cost_focus"
    rows = warehouse.query(f"SELECT * FROM `{table}` WHERE ProviderName = 'Microsoft'")
    assert len(rows) == 15 + 3 * 40 and violations(rows) == {}
    assert run["rows_written"] == 2 * len(rows)  # raw + FOCUS
    loaded: dict[str, Decimal] = {}
    for row in rows:
        loaded[row["BillingCurrency"]] = loaded.get(row["BillingCurrency"], Decimal(0)) + row["BilledCost"]
    assert loaded == azure_org["totals"]  # exactly, per currency (never summed across them)
    # (Re-runs load nothing: tests/integration/test_azure_export_golden.py; one HTTP run per route here.)
    with pytest.raises(onboarding.AdminError, match="takes no secret"):  # a keyless source refuses a secret
        onboarding.set_credential(settings, azure_org["org_slug"], "azure", "AccountKey=abc", METADATA)
