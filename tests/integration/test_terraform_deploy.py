"""Deployable on a fresh project (issue 14): the offline plan of every root, and static checks of what a plan
cannot see (APIs before use, secrets only in the api at pinned versions, worker concurrency and timeouts against
the push limit, retry sizing, OIDC everywhere, the bootstrap's identities and grants, Cloud Build's guards)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from shared.platform.settings import DEFAULT_CONFIG_DIR, REPO_ROOT
from shared.runs.reaper import PENDING_LIMIT_SECONDS
from tests.kit import offline_plan
from tests.unit.test_terraform import (
    TERRAFORM,
    TF_FILES,
    _load,
    _locals,
    _strings,
    _unquote,
    module_calls,
    resources,
)

SERVICE = TERRAFORM / "modules" / "service" / "main.tf"
BOOTSTRAP = TERRAFORM / "bootstrap" / "main.tf"
ROOTS = {
    "envs/stage": {"project_id": "offline-stage"},
    "envs/prod": {"project_id": "offline-prod"},
    "bootstrap": {"project_id": "offline-stage", "environment": "stage"},
}


@pytest.fixture(scope="module")
def offline_copy(tmp_path_factory):
    if shutil.which("terraform") is None:
        pytest.skip("the terraform binary is not installed: the offline plan needs it (terraform fmt too)")
    target = tmp_path_factory.mktemp("offline")
    build = target / "build"
    build.mkdir()
    for name in ["api", "notifier", "openai", "gcp", "anthropic", "aws", "azure", "saas"]:
        (build / f"{name}.zip").write_bytes(b"offline")
    return offline_plan.write_offline_copy(TERRAFORM, DEFAULT_CONFIG_DIR, target), build


@pytest.mark.parametrize("root", sorted(ROOTS))
def test_the_offline_plan_of_each_root_passes(offline_copy, root, tmp_path):
    """Every google_* stands in as terraform_data with its computed attributes unknown: an unknown for_each key,
    a bad reference or a failed validation fails the real terraform plan here."""
    copy, build = offline_copy
    variables = dict(ROOTS[root])
    if root.startswith("envs/"):
        variables["archive_dir"] = str(build)
    result = offline_plan.plan(copy / root, variables, tmp_path / ".tf")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert re.search(r"Plan: \d+ to add", result.stdout)


def test_the_offline_plan_catches_for_each_over_emails_known_only_after_apply(offline_copy, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(
        'resource "google_service_account" "sa" {\n  account_id = "x"\n}\n\n'
        'resource "google_project_iam_member" "m" {\n  for_each = toset(["serviceAccount:${google_service_account.sa.email}"])\n'
        '  role     = "roles/viewer"\n  member   = each.value\n}\n'
    )
    converted = offline_plan.write_offline_copy(root, DEFAULT_CONFIG_DIR, tmp_path / "out")
    result = offline_plan.plan(converted, {}, tmp_path / ".tf")
    assert result.returncode != 0 and "Invalid for_each argument" in result.stderr


def test_no_for_each_iterates_over_members_or_emails():
    for path in TF_FILES:
        text = path.read_text()
        assert not re.search(r"for_each\s*=\s*toset\(var\.\w*members", text), path
        for block in _load(path).get("variable", []):
            for name, body in block.items():
                if _unquote(name).endswith("_members") and _unquote(name) != "operators":
                    assert body["type"] == "${map(string)}", f"{path}: {name} must be a map with static keys"


# google_* type prefix => the API it needs.
API_OF = {
    "google_bigquery_": "bigquery.googleapis.com",
    "google_cloudfunctions2_": "cloudfunctions.googleapis.com",
    "google_cloud_run_": "run.googleapis.com",
    "google_cloud_scheduler_": "cloudscheduler.googleapis.com",
    "google_cloud_tasks_": "cloudtasks.googleapis.com",
    "google_firestore_": "firestore.googleapis.com",
    "google_kms_": "cloudkms.googleapis.com",
    "google_logging_": "logging.googleapis.com",
    "google_monitoring_": "monitoring.googleapis.com",
    "google_project_service": "serviceusage.googleapis.com",
    "google_project": "cloudresourcemanager.googleapis.com",
    "google_pubsub_": "pubsub.googleapis.com",
    "google_secret_manager_": "secretmanager.googleapis.com",
    "google_service_account": "iam.googleapis.com",
    "google_storage_": "storage.googleapis.com",
}


def test_every_api_used_is_enabled_and_everything_waits_for_it():
    enabled = set(_strings(_locals(TERRAFORM / "modules" / "apis" / "main.tf")["apis"]))
    used = set()
    for path in TF_FILES:
        if "bootstrap" in path.parts:
            continue
        for kind in ("resource", "data"):
            for block in _load(path).get(kind, []):
                for rtype in block:
                    api = next(a for prefix, a in API_OF.items() if _unquote(rtype).startswith(prefix))
                    used.add(api)
    assert used <= enabled, f"not enabled: {used - enabled}"
    assert {"cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com"} <= enabled
    bootstrap_apis = set(_strings(_locals(BOOTSTRAP)["bootstrap_apis"]))
    assert {"cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com"} <= bootstrap_apis
    for name, call in module_calls(SERVICE).items():
        if name not in ("apis", "configs"):
            assert "${module.apis}" in call.get("depends_on", []), f"module {name} does not wait for the APIs"
    service = _load(SERVICE)
    for kind in ("resource", "data"):
        for block in service.get(kind, []):
            for rtype, named in block.items():
                for name, body in named.items():
                    assert "${module.apis}" in body.get("depends_on", []), f"{rtype}.{name}"


def test_secrets_are_mounted_only_in_the_api_at_pinned_versions_after_their_grant():
    call = module_calls(SERVICE)["functions"]
    assert call["secret_environment_variables"] == '${each.key == "api" ? local.api_secrets : {}}'
    secrets = _locals(SERVICE)["api_secrets"]
    assert set(secrets) == {"CA_ROOT_API_KEY", "API_KEY_PEPPER"}
    assert all("var.secret_versions" in spec["version"] for spec in secrets.values())
    ((_, _, function),) = resources("google_cloudfunctions2_function")
    dynamic = function["service_config"][0]["dynamic"][0]['"secret_environment_variables"']
    assert dynamic["content"][0]["version"] == "${secret_environment_variables.value.version}"
    assert function["depends_on"] == ["${google_secret_manager_secret_iam_member.reads}"]
    for env in ("stage", "prod"):
        pinned = module_calls(TERRAFORM / "envs" / env / "main.tf")["service"]["secret_versions"]
        assert all(re.fullmatch(r"[0-9]+", _unquote(v)) for v in pinned.values()), env
    # Created (with values) by the bootstrap, never by the environment; workers start without them.
    assert [n for _, n, _ in resources("google_secret_manager_secret")] == ["secret"]
    assert _locals(SERVICE)["worker_env"] == {"AUTH_SECRETS": '"none"'} or "none" in str(
        _locals(SERVICE)["worker_env"]
    )
    assert (TERRAFORM / "bootstrap" / "set-secrets.sh").stat().st_mode & 0o100


def test_the_bootstrap_makes_the_state_bucket_the_identities_and_a_least_privilege_deployer():
    bootstrap = _locals(BOOTSTRAP)
    ((_, _, bucket),) = [r for r in resources("google_storage_bucket") if r[1] == "tfstate"]
    assert _unquote(bucket["name"]) == "${var.project_id}-tfstate" and bucket["versioning"][0]["enabled"]
    roles = set(_strings(bootstrap["deployer_roles"]))
    assert "roles/owner" not in roles and "roles/editor" not in roles
    assert not roles & {"roles/resourcemanager.projectIamAdmin", "roles/iam.serviceAccountAdmin"}
    assert not any("secretmanager.secretAccessor" in r or "secretmanager.admin" in r for r in roles)
    acts = {n: b for _, n, b in resources("google_service_account_iam_member")}
    assert acts["deployer_acts_as"]["for_each"] == "${local.identities}"
    assert _unquote(acts["deployer_acts_as"]["role"]) == "roles/iam.serviceAccountUser"
    identities = json.dumps(bootstrap["identities"])
    for name in ("pusher", "scheduler", "tasks", "builder"):
        assert name in identities
    assert "local.runtime" in identities  # api + every provider
    build = yaml.safe_load((REPO_ROOT / "cloudbuild.yaml").read_text())
    assert build["serviceAccount"].endswith("dps-${_ENV}-deployer@${PROJECT_ID}.iam.gserviceaccount.com")


def test_functions_build_as_the_build_identity_which_reads_the_sources():
    ((_, _, function),) = resources("google_cloudfunctions2_function")
    assert "var.build_service_account_email" in function["build_config"][0]["service_account"]
    grants = {n: b for _, n, b in resources("google_storage_bucket_iam_member")}
    assert _unquote(grants["builder_reads_sources"]["role"]) == "roles/storage.objectViewer"


def test_workers_serve_one_request_at_a_time_behind_internal_ingress_without_secrets():
    functions = _locals(SERVICE)["functions"]
    _, _, workers = functions.partition("{for provider in module.configs.providers")
    assert re.search(r"concurrency = 1\b", workers) and '"ALLOW_INTERNAL_ONLY"' in workers
    call = module_calls(SERVICE)["functions"]
    assert call["concurrency"] == "${each.value.concurrency}"
    assert call["ingress_settings"] == "${each.value.ingress}"


def test_pushes_retry_through_saturation_and_dead_letter_before_the_reaper_gives_up():
    """Backoff doubling from the minimum to 600 s between attempts: the time a request survives 429s."""
    variables = {
        _unquote(k): b
        for block in _load(TERRAFORM / "modules/run_topic/variables.tf")["variable"]
        for k, b in block.items()
    }
    attempts, minimum = (
        variables["max_delivery_attempts"]["default"],
        variables["minimum_backoff_seconds"]["default"],
    )
    waits = [min(minimum * 2**i, 600) for i in range(attempts - 1)]
    assert 30 * 60 <= sum(waits) < PENDING_LIMIT_SECONDS
    hold = {n: b for _, n, b in resources("google_pubsub_subscription")}["dead_letter"]
    assert _unquote(hold["message_retention_duration"]) == "2678400s"  # 31 days


def test_scheduler_calls_fit_the_api_timeout_and_maintenance_runs_on_a_schedule_with_oidc():
    call = module_calls(SERVICE)["scheduler"]
    assert call["attempt_deadline_seconds"] == "${var.api_timeout_seconds}"
    jobs = {n: b for _, n, b in resources("google_cloud_scheduler_job")}
    for job in jobs.values():
        assert _unquote(job["attempt_deadline"]) == "${var.attempt_deadline_seconds}s"
        target = job["http_target"][0]
        assert target["oidc_token"] and "X-CA-Root-Key" not in json.dumps(target)
    paths = json.dumps(_locals(TERRAFORM / "modules/scheduler/main.tf")["maintenance_jobs"])
    assert "/api/v1/admin/reap" in paths and "/api/v1/admin/dead-letters" in paths
    invokers = {n: b for _, n, b in resources("google_cloud_run_service_iam_member")}
    assert set(_strings(invokers["api_invokers"]["for_each"])) == {"scheduler", "tasks"}
    assert invokers["api_public"]["count"] == "${var.api_public ? 1 : 0}"
    assert "TASKS_SERVICE_ACCOUNT" in _locals(SERVICE)["api_env"]


def test_alerts_on_dead_letters_and_stuck_runs():
    policies = {n: json.dumps(b) for _, n, b in resources("google_monitoring_alert_policy")}
    assert "dead_letter_message_count" in policies["dead_letters"]
    assert "num_undelivered_messages" in policies["dead_letters"]
    assert "google_logging_metric.stuck_runs" in policies["stuck_runs"]
    ((_, _, metric),) = resources("google_logging_metric")
    assert "reaped a stuck run" in metric["filter"]


def test_previous_archives_are_kept_for_a_rollback():
    ((_, _, bucket),) = [r for r in resources("google_storage_bucket") if r[1] == "sources"]
    assert bucket["versioning"][0]["enabled"]
    (rule,) = bucket["lifecycle_rule"]
    assert rule["condition"][0]["days_since_noncurrent_time"] == 90 and "age" not in rule["condition"][0]


def test_cloud_build_ties_the_environment_to_the_project_plans_by_default_and_pins_its_images():
    build = yaml.safe_load((REPO_ROOT / "cloudbuild.yaml").read_text())
    assert build["substitutions"]["_APPLY"] == "false"
    check = " ".join(build["steps"][0]["args"])
    assert build["steps"][0]["id"] == "check-env" and "labels.environment" in check and "${_ENV}" in check
    for name, image in build["substitutions"].items():
        if name.endswith("_IMAGE"):
            assert re.search(r"(@sha256:|:\d+\.\d+\.\d+)", image), f"{name} floats: {image}"
    images = {step["name"] for step in build["steps"]}
    assert all(image.startswith("${_") for image in images), images
    for env in ("stage", "prod"):
        versions = (TERRAFORM / "envs" / env / "versions.tf").read_text()
        assert re.search(r'version\s*=\s*"\d+\.\d+\.\d+"', versions), f"{env}: provider not pinned"
