"""Terraform checks: parsed with python-hcl2 (no provider needed); the config-derived schedules evaluated by
terraform itself when it is installed. Schedules match the configs, subscriptions have retry and dead-letter
policies, deployed entry points exist, no secret value is written in any .tf, and the Firestore database,
indexes, TTL policies, grants and FIRESTORE_DATABASE setting are the ones the application needs."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from shared.platform.settings import DEFAULT_CONFIG_DIR, REPO_ROOT
from shared.worker.pipelines import load_pipelines, scheduled_pipelines

TERRAFORM = REPO_ROOT / "terraform"
MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
TF_FILES = sorted(TERRAFORM.rglob("*.tf"))
needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")


def _unquote(value):
    """python-hcl2 keeps HCL's quotes on keys and literal strings: strip them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _load(path: Path) -> dict:
    with path.open() as handle:
        return hcl2.load(handle)


def resources(resource_type: str) -> list[tuple[Path, str, dict]]:
    """(file, name, body) of every resource of a type in any .tf file."""
    found = []
    for path in TF_FILES:
        for block in _load(path).get("resource", []):
            for rtype, named in block.items():
                if _unquote(rtype) == resource_type:
                    found += [(path, _unquote(name), body) for name, body in named.items()]
    return found


def module_calls(path: Path) -> dict[str, dict]:
    """name => arguments of every `module` block in one file."""
    calls = {}
    for block in _load(path).get("module", []):
        calls.update({_unquote(name): body for name, body in block.items()})
    return calls


def _env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_DATA_DIR": str(tmp_path / ".tf"),
    }


def _evaluate_pipeline_configs(tmp_path: Path) -> dict:
    """Run the pipeline_configs module with terraform (it has no provider, so this works offline)."""
    (tmp_path / "main.tf").write_text(
        f'module "configs" {{\n  source = "{TERRAFORM / "modules" / "pipeline_configs"}"\n'
        f'  config_dir = "{DEFAULT_CONFIG_DIR}"\n}}\n'
        'output "jobs" { value = module.configs.scheduled_jobs }\n'
        'output "providers" { value = module.configs.providers }\n'
    )
    for argv in (["init", "-backend=false", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        subprocess.run(
            ["terraform", *argv], cwd=tmp_path, env=_env(tmp_path), check=True, capture_output=True
        )
    out = subprocess.run(
        ["terraform", "output", "-json"],
        cwd=tmp_path,
        env=_env(tmp_path),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {name: value["value"] for name, value in json.loads(out).items()}


@needs_terraform
def test_terraform_fmt_check_passes():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(TERRAFORM)],
        capture_output=True,
        text=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt would change: {result.stdout}"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_every_module_has_the_five_files(module):
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= {
        p.name for p in module.iterdir()
    }


@needs_terraform
def test_every_scheduled_pipeline_has_a_job_with_the_same_cron(tmp_path):
    evaluated = _evaluate_pipeline_configs(tmp_path)
    expected = {
        pid: (c.schedule.cron, c.schedule.time_zone, c.schedule.date)
        for pid, c in scheduled_pipelines(DEFAULT_CONFIG_DIR).items()
    }
    jobs = {pid: (job["cron"], job["time_zone"], job["date"]) for pid, job in evaluated["jobs"].items()}
    assert jobs == expected and expected
    assert set(evaluated["providers"]) == {c.provider for c in load_pipelines(DEFAULT_CONFIG_DIR).values()}


def test_the_scheduler_jobs_are_made_from_the_configs_with_their_cron_and_time_zone():
    ((path, _, job),) = [r for r in resources("google_cloud_scheduler_job") if r[1] == "pipeline"]
    assert job["for_each"] == "${module.configs.scheduled_jobs}"
    assert job["schedule"] == "${each.value.cron}" and job["time_zone"] == "${each.value.time_zone}"
    target = job["http_target"][0]
    assert _unquote(target["uri"]).endswith("/api/v1/scheduler/trigger") and target["oidc_token"]
    assert module_calls(path)["configs"]["config_dir"] == "${var.config_dir}"
    locals_ = _load(TERRAFORM / "modules" / "pipeline_configs" / "main.tf")["locals"][0]
    # The same files shared/worker/pipelines.py loads (configs/pipelines/<provider>/<domain>/<pipeline>.yml).
    assert '"pipelines/*/*/*.yml"' in locals_["files"]
    for env in ("stage", "prod"):
        env_main = TERRAFORM / "envs" / env / "main.tf"
        service = module_calls(env_main)["service"]
        assert _unquote(service["config_dir"]) == "${local.repo_root}/configs"
        assert (env_main.parent / "../../..").resolve() == REPO_ROOT  # what local.repo_root evaluates to
        assert _unquote(service["environment"]) == env


def test_every_subscription_has_a_retry_policy_and_a_dead_letter_topic():
    subscriptions = resources("google_pubsub_subscription")
    assert subscriptions
    for path, name, body in subscriptions:
        assert body.get("retry_policy"), f"{path}:{name} has no retry_policy"
        if "dead-letter" in json.dumps(body.get("labels", "")):
            continue  # the hold subscription of a dead-letter topic: where dead letters end, not a source
        policy = body.get("dead_letter_policy")
        assert policy and policy[0]["dead_letter_topic"] and policy[0]["max_delivery_attempts"], (
            f"{path}:{name}"
        )
        if "push_config" in body:  # a pull subscription (cost-alerts-platform) pushes nowhere
            assert body["push_config"][0]["oidc_token"], f"{path}:{name} pushes without OIDC"
    # Dead-lettering only works when the Pub/Sub service agent may publish to the DLQ and ack the source.
    granted = {
        (_unquote(b["role"]), b.get("topic") or b.get("subscription"))
        for kind in ("google_pubsub_topic_iam_member", "google_pubsub_subscription_iam_member")
        for _, _, b in resources(kind)
        if "pubsub_agent" in b["member"]
    }
    assert ("roles/pubsub.publisher", "${google_pubsub_topic.dead_letter.name}") in granted
    assert ("roles/pubsub.subscriber", "${google_pubsub_subscription.push.name}") in granted


def _entry_points(main: Path) -> set[str]:
    """Names of functions in main.py decorated with functions_framework.http / cloud_event."""
    tree = ast.parse(main.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("functions_framework" in ast.unparse(d) for d in node.decorator_list)
    }


def test_every_deployed_functions_entry_point_exists_in_functions():
    service = _load(TERRAFORM / "modules" / "service" / "main.tf")
    call = module_calls(TERRAFORM / "modules" / "service" / "main.tf")["functions"]
    assert call["for_each"] == "${local.functions}" and call["entry_point"] == "${each.key}"
    functions_local = next(block["functions"] for block in service["locals"] if "functions" in block)
    # The deployed set: "api" plus every provider with a pipeline config (see modules/service/main.tf).
    assert "module.configs.providers" in json.dumps(functions_local) and "api" in json.dumps(functions_local)
    deployed = {"api"} | {c.provider for c in load_pipelines(DEFAULT_CONFIG_DIR).values()}
    for name in sorted(deployed):
        main = REPO_ROOT / "functions" / name / "main.py"
        assert main.exists(), f"terraform deploys {name} but functions/{name}/main.py is missing"
        assert name in _entry_points(main), f"functions/{name}/main.py has no entry point {name}()"


SECRET_LIKE = [
    re.compile(r"sk-[A-Za-z0-9_-]{8,}"),  # provider API keys
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"AIza[0-9A-Za-z_-]{20,}"),  # Google API keys
    re.compile(r'"[0-9a-fA-F]{32,}"'),  # hex keys
]
OPAQUE = re.compile(r'"([A-Za-z0-9+/_=-]{32,})"')


def _opaque_token(text: str) -> str | None:
    """A long string literal mixing upper case, lower case and digits (a generated key), if any."""
    for match in OPAQUE.finditer(text):
        token = match.group(1)
        if re.search(r"[A-Z]", token) and re.search(r"[a-z]", token) and re.search(r"[0-9]", token):
            return token
    return None


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_no_secret_value_in_any_tf_file(path):
    text = path.read_text()
    for pattern in SECRET_LIKE:
        match = pattern.search(text)
        assert match is None, f"{path}: looks like a secret: {match.group(0)[:12]}..."
    assert _opaque_token(text) is None, f"{path}: looks like a generated key"
    assert "google_secret_manager_secret_version" not in text and "secret_data" not in text
    for block in _load(path).get("variable", []):
        for name, body in block.items():
            if re.search(r"key|secret|password|token|pepper", _unquote(name)) and "default" in body:
                assert not body["default"], f"{path}: variable {name} has a default value"


def test_secret_settings_are_never_plain_environment_variables():
    """Secret settings arrive only from Secret Manager, never as plain environment variables."""
    for _, name, body in [(p, n, b) for p, n, b in resources("google_cloudfunctions2_function")]:
        plain = json.dumps(body["service_config"][0].get("environment_variables", ""))
        assert "CA_ROOT_API_KEY" not in plain and "API_KEY_PEPPER" not in plain


def test_cloudbuild_lints_tests_packages_and_deploys_one_environment():
    import yaml

    build = yaml.safe_load((REPO_ROOT / "cloudbuild.yaml").read_text())
    steps = {step["id"]: step for step in build["steps"]}
    assert list(steps) == [
        "check-env",
        "lint",
        "terraform-fmt",
        "test",
        "package",
        "terraform-init",
        "terraform-validate",
        "terraform-plan",
        "terraform-apply",
    ]
    assert "make test" in " ".join(steps["test"]["args"])
    assert steps["package"]["args"] == ["-m", "devstack.packaging", "build/functions"]
    assert build["substitutions"]["_ENV"] in ("stage", "prod")
    for env in ("stage", "prod"):  # the environments _ENV may name
        assert (TERRAFORM / "envs" / env / "main.tf").exists()
    assert all(
        steps[s]["dir"] == "terraform/envs/${_ENV}"
        for s in ("terraform-init", "terraform-validate", "terraform-plan", "terraform-apply")
    )


def test_dead_letter_names_agree_with_the_settings_and_the_local_stack():
    """The api drains `Settings.dead_letter_subscription_for(provider)`; Terraform and the emulator topology
    (devstack/standins/pubsub.py, which derives the same suffixes) must create exactly those names."""
    import inspect

    from devstack.standins import pubsub
    from shared.platform.settings import settings_from_env

    settings = settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k", "PIPELINE_TOPIC_PREFIX": "T"})
    topic = settings.topic_for("openai")
    names = {
        (rtype, name): _unquote(body["name"]).replace("${var.topic_name}", topic)
        for rtype in ("google_pubsub_topic", "google_pubsub_subscription")
        for _, name, body in resources(rtype)
    }
    assert names[("google_pubsub_topic", "dead_letter")] == settings.dead_letter_topic_for("openai")
    assert names[("google_pubsub_subscription", "dead_letter")] == settings.dead_letter_subscription_for(
        "openai"
    )
    local = inspect.getsource(pubsub.ensure_topology)
    assert '"{topic_id}-dead-letter"' in local and '"{topic_id}-dead-letter-hold"' in local


# Firestore: the control plane's mutable state (modules/firestore, composed in modules/service).
FIRESTORE = TERRAFORM / "modules" / "firestore"
SERVICE_MAIN = TERRAFORM / "modules" / "service" / "main.tf"


def _locals(path: Path) -> dict:
    merged: dict = {}
    for block in _load(path).get("locals", []):
        merged.update(block)
    return merged


def _variable_default(path: Path, name: str):
    for block in _load(path).get("variable", []):
        for var_name, body in block.items():
            if _unquote(var_name) == name:
                return _unquote(body.get("default"))
    raise KeyError(name)


def _output(path: Path, name: str) -> dict:
    for block in _load(path).get("output", []):
        for output_name, body in block.items():
            if _unquote(output_name) == name:
                return body
    raise KeyError(name)


def _strings(expression: str) -> list[str]:
    """The string literals of an HCL expression as python-hcl2 renders it, e.g. ${toset(["a", "b"])}."""
    return re.findall(r'"([^"$]+)"', expression)


def test_the_firestore_database_is_native_pessimistic_and_waits_for_its_api():
    ((path, name, db),) = resources("google_firestore_database")
    assert path.parent == FIRESTORE and name == "default"
    assert _unquote(db["name"]) == "(default)"
    assert _unquote(db["type"]) == "FIRESTORE_NATIVE"
    assert _unquote(db["concurrency_mode"]) == "PESSIMISTIC"
    assert db["deletion_policy"] == "${var.deletion_policy}"
    assert _variable_default(FIRESTORE / "variables.tf", "deletion_policy") == "ABANDON"
    assert db["point_in_time_recovery_enablement"] == (
        '${var.point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"}'
    )
    assert db["delete_protection_state"] == (
        '${var.delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"}'
    )
    # The API is enabled centrally; the database depends on exactly that google_project_service.
    assert db["depends_on"] == ["${var.firestore_api_id}"]
    apis = TERRAFORM / "modules" / "apis"
    assert "firestore.googleapis.com" in _strings(_locals(apis / "main.tf")["apis"])
    assert (
        _output(apis / "outputs.tf", "api_ids")["value"]
        == "${{for service, api in google_project_service.api : service => api.id}}"
    )
    call = module_calls(SERVICE_MAIN)["firestore"]
    assert _unquote(call["source"]) == "../firestore"
    assert call["firestore_api_id"] == '${module.apis.api_ids["firestore.googleapis.com"]}'
    assert call["point_in_time_recovery"] == "${var.firestore_point_in_time_recovery}"
    assert call["delete_protection"] == "${var.firestore_delete_protection}"
    # Prod keeps 7 days of versions and cannot be deleted by accident.
    prod = module_calls(TERRAFORM / "envs" / "prod" / "main.tf")["service"]
    assert prod["firestore_point_in_time_recovery"] is True and prod["firestore_delete_protection"] is True


EXPECTED_COMPOSITE_INDEXES = {
    # The reaper: in-flight runs of every org not updated since a cutoff.
    ("runs", "COLLECTION_GROUP", (("status", "ASCENDING"), ("updated_at", "ASCENDING"))),
    # Dead-letter listings, newest first, by provider, by org, by both.
    ("dead_letters", "COLLECTION", (("provider", "ASCENDING"), ("dead_lettered_at", "DESCENDING"))),
    ("dead_letters", "COLLECTION", (("org_slug", "ASCENDING"), ("dead_lettered_at", "DESCENDING"))),
    (
        "dead_letters",
        "COLLECTION",
        (("provider", "ASCENDING"), ("org_slug", "ASCENDING"), ("dead_lettered_at", "DESCENDING")),
    ),
}


def test_the_composite_indexes_are_exactly_the_queries_of_the_application():
    ((path, _, index),) = resources("google_firestore_index")
    assert path.parent == FIRESTORE
    assert index["for_each"] == "${local.composite_indexes}"
    assert index["database"] == "${google_firestore_database.default.name}"
    assert index["collection"] == "${each.value.collection}"
    assert index["query_scope"] == "${each.value.query_scope}"
    (dynamic,) = index["dynamic"]
    fields = dynamic['"fields"']
    assert fields["for_each"] == "${each.value.fields}"
    (content,) = fields["content"]
    assert content["field_path"] == "${fields.value[0]}" and content["order"] == "${fields.value[1]}"
    declared = {
        (
            _unquote(spec["collection"]),
            _unquote(spec["query_scope"]),
            tuple((_unquote(field), _unquote(order)) for field, order in spec["fields"]),
        )
        for spec in _locals(path)["composite_indexes"].values()
    }
    assert declared == EXPECTED_COMPOSITE_INDEXES


def test_every_ttl_collection_group_expires_on_expire_at_without_an_index():
    fields = {name: (path, body) for path, name, body in resources("google_firestore_field")}
    path, field = fields["ttl"]
    assert path.parent == FIRESTORE
    assert field["for_each"] == "${local.ttl_collection_groups}"
    assert field["collection"] == "${each.value}" and _unquote(field["field"]) == "expire_at"
    assert field["database"] == "${google_firestore_database.default.name}"
    assert field.get("ttl_config"), "no TTL policy"
    # An empty index_config disables the single-field index (monotonic timestamps would be a hotspot).
    (index_config,) = field["index_config"]
    assert not {k for k in index_config if not k.startswith("__")}, "expire_at is still indexed"
    groups = _locals(path)["ttl_collection_groups"]
    assert groups.startswith("${toset([")
    assert sorted(_strings(groups)) == sorted(
        ["runs", "slices", "scheduled", "rate", "dead_letters", "inflight"]
    )


def test_the_reapers_collection_group_query_on_history_behind_has_its_index():
    fields = {name: body for _, name, body in resources("google_firestore_field")}
    field = fields["runs_history_behind"]
    assert (_unquote(field["collection"]), _unquote(field["field"])) == ("runs", "history_behind")
    ((index_config,),) = [field["index_config"]]
    (index,) = index_config["indexes"]
    assert (_unquote(index["order"]), _unquote(index["query_scope"])) == ("ASCENDING", "COLLECTION_GROUP")


def _service_variable(name: str) -> dict:
    for block in _load(TERRAFORM / "modules" / "service" / "variables.tf")["variable"]:
        for key, body in block.items():
            if _unquote(key) == name:
                return body
    raise AssertionError(f"no variable {name}")


def test_no_worker_delivery_outlasts_the_push_limit_and_the_bound_reaches_the_functions():
    """Pub/Sub waits at most the 600 s ack deadline for a push: the worker's timeout stays inside it and above the
    delivery bound the functions read (DELIVERY_MAX_SECONDS), which the settings refuse above 540 s."""
    from shared.platform.settings import settings_from_env

    bound, timeout = _service_variable("delivery_max_seconds"), _service_variable("worker_timeout_seconds")
    assert (
        bound["default"]
        == settings_from_env({"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "k"}).delivery_max_seconds
    )
    assert bound["default"] + 30 <= timeout["default"] <= 600
    assert "600" in str(timeout["validation"]) and "540" in str(bound["validation"])
    assert "var.delivery_max_seconds" in str(_locals(SERVICE_MAIN)["common_env"])
    pushes = [body for _, _, body in resources("google_pubsub_subscription") if "push_config" in body]
    assert pushes and all(int(body["ack_deadline_seconds"]) == 600 for body in pushes)


def test_the_api_and_every_worker_get_datastore_user_on_the_project():
    """Identities and their project roles are made once by terraform/bootstrap (the deployer cannot grant them)."""
    bootstrap = _locals(TERRAFORM / "bootstrap" / "main.tf")
    runtime = bootstrap["runtime"]
    api_part, _, worker_part = runtime.partition("{for provider in module.configs.providers")
    assert worker_part, "workers are no longer made per provider: update this test"
    for who, part in (("api", api_part), ("workers", worker_part)):
        assert "roles/datastore.user" in _strings(part), f"{who} lacks roles/datastore.user"
    ((_, _, grant),) = [r for r in resources("google_project_iam_member") if r[1] == "identity"]
    assert grant["for_each"] == "${local.identity_roles}" and grant["role"] == "${each.value.role}"


def test_every_function_gets_the_firestore_database():
    assert _locals(SERVICE_MAIN)["common_env"]["FIRESTORE_DATABASE"] == "${module.firestore.database_name}"
    # The database's name, "(default)" (checked in the Native-mode test above).
    assert (
        _output(FIRESTORE / "outputs.tf", "database_name")["value"]
        == "${google_firestore_database.default.name}"
    )
    call = module_calls(SERVICE_MAIN)["functions"]
    assert call["environment_variables"].startswith("${merge(local.common_env,")
    ((_, _, function),) = resources("google_cloudfunctions2_function")
    assert function["service_config"][0]["environment_variables"] == "${var.environment_variables}"


def test_every_function_and_the_operator_know_the_worker_service_accounts():
    """Whoever creates an org dataset (dps, a worker's first run) grants these WRITER on it."""
    service = _locals(SERVICE_MAIN)
    assert service["common_env"]["WORKER_SERVICE_ACCOUNTS"] == '${join(",", local.worker_accounts)}'
    assert "module.configs.providers" in service["worker_accounts"]
    assert (
        _output(SERVICE_MAIN.parent / "outputs.tf", "worker_service_accounts")["value"]
        == '${join(",", local.worker_accounts)}'
    )
    for env in ("stage", "prod"):
        output = _output(TERRAFORM / "envs" / env / "outputs.tf", "worker_service_accounts")
        assert output["value"] == "${module.service.worker_service_accounts}"


def test_granted_gcp_orgs_are_told_the_reader_and_onboarding_may_dry_run_as_it():
    """GCP granted mode: every function knows the gcp function's account (GCP_EXPORT_READER), the environments
    output it for the org's grant, and the api may impersonate it (Token Creator on it alone) for the dry run."""
    service = _locals(SERVICE_MAIN)
    assert service["common_env"]["GCP_EXPORT_READER"] == '${local.identity["gcp"]}'
    assert (
        _output(SERVICE_MAIN.parent / "outputs.tf", "gcp_export_reader")["value"]
        == '${local.identity["gcp"]}'
    )
    for env in ("stage", "prod"):
        output = _output(TERRAFORM / "envs" / env / "outputs.tf", "gcp_export_reader")
        assert output["value"] == "${module.service.gcp_export_reader}"
    grants = {name: body for _, name, body in resources("google_service_account_iam_member")}
    grant = grants["api_impersonates_gcp_reader"]
    assert _unquote(grant["role"]) == "roles/iam.serviceAccountTokenCreator"
    assert grant["service_account_id"] == '${google_service_account.identity["gcp"].name}'
    assert _unquote(grant["member"]) == 'serviceAccount:${google_service_account.identity["api"].email}'
