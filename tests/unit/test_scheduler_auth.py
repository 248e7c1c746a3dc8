"""Who may call the scheduler routes: the root key, or Cloud Scheduler's OIDC identity when configured."""

import pytest

from shared.platform.errors import ApiError
from shared.platform.settings import SettingsError, settings_from_env
from shared.tenancy.auth import verify_scheduler_caller

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
