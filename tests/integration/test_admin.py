"""Bootstrap and onboarding against the BigQuery emulator and the KMS server, through the real clients."""

import json
import subprocess
import sys

import pytest

from shared.platform.settings import central_table
from shared.tenancy import onboarding
from shared.tenancy.credentials import load_credential
from shared.warehouse.schemas import load_table_specs


def test_bootstrap_creates_every_central_table_from_the_schema_files(settings, warehouse):
    assert onboarding.bootstrap(settings) == sorted(
        load_table_specs(settings.config_dir, "organizations")
    )  # idempotent
    for name, spec in load_table_specs(settings.config_dir, "organizations").items():
        table = warehouse.client.get_table(central_table(settings, name))
        assert [field.name for field in table.schema] == list(spec.column_names)


def test_org_create_stores_only_a_peppered_hash_of_the_key(settings, warehouse, new_org):
    created = new_org()
    rows = warehouse.query(
        f"SELECT key_hash, key_prefix, is_active FROM `{central_table(settings, 'org_api_keys')}` "
        "WHERE org_slug = @org",
        {"org": created["org_slug"]},
    )
    assert len(rows) == 1 and rows[0]["is_active"]
    assert created["api_key"] not in json.dumps(rows) and rows[0]["key_hash"] != created["api_key"]
    assert created["dataset"] == f"{created['org_slug']}_local"
    tables = {t.table_id for t in warehouse.client.list_tables(created["dataset"])}
    assert {"openai_usage_daily", "openai_costs_daily", "cost_focus"} <= tables
    # A provider's own tables come with the org's first run of it, not before (tests/e2e/test_aws_pipeline.py).
    assert not {"aws_cost_export", "azure_cost_export", "saas_subscriptions_daily"} & tables


def test_credentials_are_encrypted_at_rest_and_decrypt_through_kms(settings, warehouse, kms, new_org):
    created = new_org(metadata={"base_url": "http://127.0.0.1:1"})
    rows = warehouse.query(
        f"SELECT encrypted_secret FROM `{central_table(settings, 'org_integration_credentials')}` "
        "WHERE org_slug = @org",
        {"org": created["org_slug"]},
    )
    assert len(rows) == 1 and b"sk-admin-test-secret" not in rows[0]["encrypted_secret"]
    credential = load_credential(warehouse, settings, kms, created["org_slug"], "openai")
    assert credential.secret == "sk-admin-test-secret" and credential.metadata == {
        "base_url": "http://127.0.0.1:1"
    }
    assert "sk-admin" not in repr(credential)


def test_credential_set_replaces_the_previous_one(settings, warehouse, kms, new_org):
    slug = new_org()["org_slug"]
    onboarding.set_credential(settings, slug, "openai", "sk-second", {})
    assert load_credential(warehouse, settings, kms, slug, "openai").secret == "sk-second"
    count = warehouse.query(
        f"SELECT COUNT(*) AS n FROM `{central_table(settings, 'org_integration_credentials')}` WHERE org_slug = @o",
        {"o": slug},
    )
    assert count[0]["n"] == 1


def test_cli_json_output_and_clear_errors(stack, tmp_path):
    env = {**stack.env(), "PATH": "/usr/bin:/bin"}
    dps = [sys.executable, "-m", "devstack.cli"]
    created = subprocess.run(
        [*dps, "org", "create", "cli_org_one", "--plan", "starter", "--status", "TRIAL", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    payload = json.loads(created.stdout)
    assert payload["org_slug"] == "cli_org_one" and payload["api_key"].startswith("dpsk_")
    secret_file = tmp_path / "secret"
    secret_file.write_text("sk-admin-cli\n")
    stored = subprocess.run(
        [
            *dps,
            "--json",
            "credential",
            "set",
            "cli_org_one",
            "openai",
            "--secret-file",
            str(secret_file),
            "--metadata",
            "{}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(stored.stdout)["provider"] == "openai" and "sk-admin-cli" not in stored.stdout
    again = subprocess.run(
        [*dps, "org", "create", "cli_org_one", "--plan", "starter", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 2 and "already exists" in json.loads(again.stdout)["error"]["message"]
    bad = subprocess.run(
        [*dps, "org", "create", "Bad-Slug", "--plan", "starter"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "must match" in bad.stderr


def test_a_base_url_outside_the_allow_list_is_refused_at_onboarding(settings, new_org):
    slug = new_org(credential=False)["org_slug"]
    for url in ("http://169.254.169.254/", "https://evil.example.com", "http://10.0.0.1:80"):
        with pytest.raises(onboarding.AdminError, match="base_url"):
            onboarding.set_credential(settings, slug, "openai", "sk-x", {"base_url": url})
