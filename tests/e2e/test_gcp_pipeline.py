"""HTTP run request in, rows out: the GCP billing pipeline end to end, and cost_focus checked against FOCUS 1.2."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from devstack.providers.gcp.export import ExportSpec, demo_service_account_key, generate_export
from shared.platform.clients import make_kms_client
from shared.platform.settings import central_table
from shared.tenancy import credentials, onboarding
from shared.warehouse.schemas import load_table_specs
from tests.focus_conformance import column_violations, violations
from tests.kit.orgs import attach_gcp_export
from tests.kit.runs import start_run, wait_for_run

START, END = "2025-11-03", "2025-11-05"
TABLE_NAME = "gcp_billing_export_v1_0C1D2E_3F4A5B_6C7D8E"  # a standard (not detailed) export


@pytest.fixture
def gcp_org(settings, warehouse, new_org):
    """An org with OpenAI and GCP credentials; its standard export holds usage days Nov 1-6, 2025."""
    org = new_org()
    export = generate_export(ExportSpec(start=date(2025, 11, 1), days=6, rows_per_day=120, detailed=False))
    attach_gcp_export(settings, warehouse, org["org_slug"], TABLE_NAME, export, "e2e")
    return org


def _focus_rows(warehouse, settings, slug):
    table = f"{settings.project}.{settings.org_dataset(slug)}.cost_focus"
    return warehouse.query(f"SELECT * FROM `{table}`")


def test_gcp_run_over_http_loads_focus_rows_that_conform_side_by_side_with_openai(
    stack, settings, warehouse, gcp_org
):
    gcp_run = wait_for_run(
        stack, gcp_org, start_run(stack, gcp_org, {"start_date": START, "end_date": END}, "gcp/cost/billing")
    )
    assert gcp_run["status"] == "COMPLETED", gcp_run
    # Nov 3-5 early in the month: the window (with October, restated until its invoice closes) fans out.
    assert gcp_run["slices_total"] == gcp_run["slices_done"] == 6
    assert [s["step_id"] for s in gcp_run["steps"]] == ["billing"] * 6 and gcp_run["rows_written"] > 0
    openai_run = wait_for_run(
        stack,
        gcp_org,
        start_run(stack, gcp_org, {"start_date": START, "end_date": END}, "openai/cost/usage_cost"),
    )
    assert openai_run["status"] == "COMPLETED", openai_run
    rows = _focus_rows(warehouse, settings, gcp_org["org_slug"])
    assert {r["ProviderName"] for r in rows} == {"Google Cloud", "OpenAI"}
    assert violations(rows) == {}  # every row, both providers, against FOCUS 1.2's rules
    spec = load_table_specs(settings.config_dir, "org")["cost_focus"]
    assert column_violations(list(spec.column_names)) == []

    again = wait_for_run(
        stack, gcp_org, start_run(stack, gcp_org, {"start_date": START, "end_date": END}, "gcp/cost/billing")
    )
    assert again["status"] == "COMPLETED" and again["rows_written"] == 0  # incremental: nothing changed
    assert len(_focus_rows(warehouse, settings, gcp_org["org_slug"])) == len(rows)


def test_a_bad_export_table_is_refused_at_onboarding_and_again_by_the_worker(
    stack, settings, warehouse, new_org
):
    org = new_org()
    key = demo_service_account_key(settings.project, "e2e")
    for bad in ("p.d.t", f"{settings.project}.billing.{TABLE_NAME}`; DROP TABLE x; --", None):
        with pytest.raises(onboarding.AdminError, match="billing_export_table"):
            onboarding.set_credential(settings, org["org_slug"], "gcp", key, {"billing_export_table": bad})
    with pytest.raises(onboarding.AdminError, match="service-account key"):
        onboarding.set_credential(
            settings,
            org["org_slug"],
            "gcp",
            "sk-not-a-key",
            {"billing_export_table": f"customer-billing.billing.{TABLE_NAME}"},
        )
    # A credential written around the admin CLI (an older version, a manual fix) must still be refused.
    _store_around_the_cli(settings, warehouse, org["org_slug"], key, "x.y.z` WHERE 1=1 --")
    run = wait_for_run(stack, org, start_run(stack, org, {"date": START}, "gcp/cost/billing"))
    assert run["status"] == "FAILED" and run["error_code"] == "INVALID_BILLING_EXPORT_TABLE"
    # Terminal: no step attempt is retried. (Early in a month the window holds the previous month too, so the
    # run is fanned out: slices already started when the first failed end the same way.)
    assert run["steps"] and all(s["status"] == "FAILED" and s["attempt"] == 1 for s in run["steps"])


def test_an_export_table_in_another_orgs_or_the_central_dataset_is_refused_at_onboarding_and_by_the_worker(
    stack, settings, warehouse, new_org
):
    thief, other = new_org(), new_org()
    key = demo_service_account_key(settings.project, "e2e")
    victim = f"{settings.project}.{settings.org_dataset(other['org_slug'])}.{TABLE_NAME}"
    central = f"{settings.project}.{settings.central_dataset}.{TABLE_NAME}"
    for table, why in ((victim, "is not the org's own"), (central, "central dataset")):
        with pytest.raises(onboarding.AdminError, match=why):
            onboarding.set_credential(
                settings, thief["org_slug"], "gcp", key, {"billing_export_table": table}
            )
    # The org's own dataset is its own to name.
    own = f"{settings.project}.{settings.org_dataset(other['org_slug'])}.{TABLE_NAME}"
    onboarding.set_credential(settings, other["org_slug"], "gcp", key, {"billing_export_table": own})
    # Metadata stored before the rule (or around the CLI) meets it again when the run reads it.
    _store_around_the_cli(settings, warehouse, thief["org_slug"], key, victim)
    run = wait_for_run(stack, thief, start_run(stack, thief, {"date": START}, "gcp/cost/billing"))
    assert run["status"] == "FAILED" and run["error_code"] == "INVALID_BILLING_EXPORT_TABLE"
    assert "is not the org's own" in run["error_message"]


def _store_around_the_cli(settings, warehouse, org_slug: str, key: str, table: str) -> None:
    """Store an active GCP credential naming `table` directly in the central table, skipping onboarding's checks."""
    now = datetime.now(UTC)
    warehouse.execute(
        f"""INSERT INTO `{central_table(settings, "org_integration_credentials")}` (credential_id, org_slug, provider,
            encrypted_secret, kms_key_name, metadata, is_active, created_at, updated_at)
            VALUES (@id, @org, 'gcp', @secret, @key_name, PARSE_JSON(@metadata), TRUE, @now, @now)""",
        {
            "id": str(uuid.uuid4()),
            "org": org_slug,
            "now": now,
            "key_name": settings.kms_key_name,
            "secret": credentials.encrypt_secret(make_kms_client(settings), settings.kms_key_name, key),
            "metadata": json.dumps({"billing_export_table": table}),
        },
    )


def test_a_granted_org_stores_no_secret_and_its_run_transforms_the_export_inside_the_warehouse(
    stack, settings, warehouse, new_org
):
    """Granted mode: onboarding's dry run as the pipeline's account passes (the stand-in has no IAM; the refusals
    are tests/unit/test_gcp_grant_check.py), nothing secret is stored, and a run over HTTP loads the export's
    money exactly: BilledCost = cost + credits of the export's rows, per currency."""
    from google.cloud import bigquery

    from devstack.providers.gcp.export import DEMO_PROJECT, write_export

    org = new_org()
    export = generate_export(ExportSpec(start=date(2025, 11, 20), days=3, rows_per_day=60))
    dataset = f"{DEMO_PROJECT}.src_{org['org_slug']}"
    warehouse.client.create_dataset(bigquery.Dataset(dataset), exists_ok=True)
    table_id = f"{dataset}.gcp_billing_export_resource_v1_0D1D2E_3F4A5B_6C7D8E"
    write_export(warehouse.client, table_id, export)
    metadata = {"billing_export_table": table_id, "access": "granted"}
    onboarding.set_credential(settings, org["org_slug"], "gcp", "", metadata)
    stored = credentials.load_credential(
        warehouse, settings, make_kms_client(settings), org["org_slug"], "gcp"
    )
    assert stored.secret == "" and stored.metadata == metadata

    run = wait_for_run(stack, org, start_run(stack, org, {"date": "2025-11-22"}, "gcp/cost/billing"))
    assert run["status"] == "COMPLETED" and run["rows_written"] > 0, run
    focus = f"{settings.project}.{settings.org_dataset(org['org_slug'])}.cost_focus"
    loaded = warehouse.query(
        f"SELECT BillingCurrency AS currency, SUM(BilledCost) AS billed FROM `{focus}` GROUP BY 1 ORDER BY 1"
    )
    expected = warehouse.query(
        f"""SELECT currency, SUM(CAST(CAST(cost AS STRING) AS NUMERIC)
                 + IFNULL((SELECT SUM(CAST(CAST(c.amount AS STRING) AS NUMERIC)) FROM UNNEST(credits) c), 0))
                 AS billed
            FROM `{table_id}` GROUP BY 1 ORDER BY 1"""
    )
    assert loaded == expected and len(loaded) == 2  # USD and EUR, each to the last decimal
