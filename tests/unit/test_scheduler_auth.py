"""Who may call the scheduler routes: the root key, or Cloud Scheduler's OIDC identity when configured."""

import pytest

from shared.platform.errors import ApiError
from shared.platform.settings import SettingsError, settings_from_env
from shared.tenancy.operator_auth import verify_scheduler_caller

BASE = {
    "GCP_PROJECT_ID": "p",
    "KMS_KEY_NAME": "projects/p/locations/l/keyRings/r/cryptoKeys/k",
    "CA_ROOT_API_KEY": "r" * 40,
}
SCHEDULER = "dps-prod-scheduler@p.iam.gserviceaccount.com"


def _settings(**extra):
    return settings_from_env({**BASE, **extra})


def _verifier(claims):
    def verify(token, audience):
        assert audience == "https://api.example"
        if token != "good":
            raise ValueError("bad signature")
        return claims

    return verify


def test_root_key_is_accepted_and_a_wrong_one_refused():
    assert verify_scheduler_caller(_settings(), {"X-CA-Root-Key": "r" * 40}) == "root_key"
    with pytest.raises(ApiError) as refused:
        verify_scheduler_caller(_settings(), {"X-CA-Root-Key": "x" * 40})
    assert refused.value.code == "INVALID_ROOT_KEY"


def test_the_schedulers_oidc_identity_is_accepted_only_when_configured_and_verified():
    configured = _settings(SCHEDULER_SERVICE_ACCOUNT=SCHEDULER, SCHEDULER_AUDIENCE="https://api.example")
    good = _verifier({"email": SCHEDULER, "email_verified": True})
    bearer = {"Authorization": "Bearer good"}
    assert verify_scheduler_caller(configured, bearer, verify_token=good) == "oidc"
    refusals = [
        (configured, {"Authorization": "Bearer forged"}, good),  # signature (or audience, expiry) refused
        (
            configured,
            bearer,
            _verifier({"email": "someone@p.iam.gserviceaccount.com", "email_verified": True}),
        ),
        (configured, bearer, _verifier({"email": SCHEDULER, "email_verified": False})),
        (_settings(), bearer, good),  # no SCHEDULER_SERVICE_ACCOUNT: only the root key
        (configured, {}, good),
    ]
    for settings, headers, verify in refusals:
        with pytest.raises(ApiError):
            verify_scheduler_caller(settings, headers, verify_token=verify)


def test_queue_setting_must_be_a_full_queue_path():
    queue = "projects/p/locations/us-central1/queues/dps-prod-scheduled-runs"
    assert _settings(CLOUD_TASKS_QUEUE=queue).tasks_queue == queue
    with pytest.raises(SettingsError, match="CLOUD_TASKS_QUEUE"):
        _settings(CLOUD_TASKS_QUEUE="scheduled-runs")


TASKS = "dps-prod-tasks@p.iam.gserviceaccount.com"


def test_process_queue_accepts_the_root_key_or_the_tasks_oidc_identity_only():
    from shared.tenancy.operator_auth import verify_tasks_caller

    configured = _settings(
        TASKS_SERVICE_ACCOUNT=TASKS,
        SCHEDULER_SERVICE_ACCOUNT=SCHEDULER,
        SCHEDULER_AUDIENCE="https://api.example",
    )
    bearer = {"Authorization": "Bearer good"}
    assert verify_tasks_caller(configured, {"X-CA-Root-Key": "r" * 40}) == "root_key"
    assert (
        verify_tasks_caller(configured, bearer, _verifier({"email": TASKS, "email_verified": True})) == "oidc"
    )
    for settings, verify in [
        (
            configured,
            _verifier({"email": SCHEDULER, "email_verified": True}),
        ),  # the scheduler is not the queue
        (
            _settings(SCHEDULER_AUDIENCE="https://api.example"),
            _verifier({"email": TASKS, "email_verified": True}),
        ),
    ]:
        with pytest.raises(ApiError):
            verify_tasks_caller(settings, bearer, verify_token=verify)


def test_deployed_tasks_carry_an_oidc_token_and_no_root_key():
    from datetime import date

    from shared.scheduling.tasks import ScheduledRun, enqueue

    class Client:
        def create_task(self, parent, task, timeout):
            self.task = task

    client = Client()
    run = ScheduledRun("acme", "openai/cost/usage_cost", date(2025, 11, 25))
    queue = "projects/p/locations/l/queues/q"
    assert enqueue(client, queue, run, "https://api.example", {}, TASKS, "https://api.example")
    request = client.task.http_request
    assert request.oidc_token.service_account_email == TASKS
    assert request.oidc_token.audience == "https://api.example"
    assert "X-CA-Root-Key" not in request.headers


def test_workers_start_without_the_auth_secrets_and_can_authenticate_no_one():
    from shared.tenancy.operator_auth import verify_root_key

    worker_env = {k: v for k, v in BASE.items() if k != "CA_ROOT_API_KEY"} | {"ENVIRONMENT": "prod"}
    with pytest.raises(SettingsError, match="CA_ROOT_API_KEY"):
        settings_from_env(worker_env)  # the api must have both secrets
    worker = settings_from_env({**worker_env, "AUTH_SECRETS": "none", "WORKER_SERVICE_ACCOUNTS": "a@x, b@x"})
    assert worker.root_key == "" and worker.key_pepper == ""
    assert worker.worker_service_accounts == ("a@x", "b@x")
    with pytest.raises(ApiError):
        verify_root_key(worker, "")
