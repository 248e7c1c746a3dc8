"""API key hashing and the settings guards for non-local environments."""

import pytest

from shared.platform.settings import SettingsError, settings_from_env
from shared.tenancy import api_keys as keys

BASE = {"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "projects/p/locations/global/keyRings/r/cryptoKeys/k"}


def test_api_keys_are_random_and_stored_only_as_peppered_hashes():
    first, second = keys.new_api_key(), keys.new_api_key()
    assert first != second and first.startswith("dpsk_") and len(first) == 54
    stored = keys.hash_api_key(first, "pepper-a")
    assert first not in stored
    assert keys.key_hash_matches(first, "pepper-a", stored)
    assert not keys.key_hash_matches(first, "pepper-b", stored)  # the pepper matters
    assert not keys.key_hash_matches(second, "pepper-a", stored)


def test_local_settings_need_no_secrets():
    settings = settings_from_env({**BASE, "ENVIRONMENT": "local"})
    assert settings.org_dataset("acmecorp") == "acmecorp_local"
    assert settings.topic_for("openai") == "pipeline-runs-openai"


@pytest.mark.parametrize("environment", ["stage", "prod"])
def test_stage_and_prod_refuse_short_root_key_or_pepper(environment):
    with pytest.raises(SettingsError, match="CA_ROOT_API_KEY"):
        settings_from_env({**BASE, "ENVIRONMENT": environment, "CA_ROOT_API_KEY": "short"})
    with pytest.raises(SettingsError, match="API_KEY_PEPPER"):
        settings_from_env({**BASE, "ENVIRONMENT": environment, "CA_ROOT_API_KEY": "r" * 32})
    ok = settings_from_env(
        {**BASE, "ENVIRONMENT": environment, "CA_ROOT_API_KEY": "r" * 32, "API_KEY_PEPPER": "p" * 32}
    )
    assert ok.org_dataset("acmecorp") == f"acmecorp_{environment}"


def test_unknown_environment_and_missing_project_are_named():
    with pytest.raises(SettingsError, match="ENVIRONMENT"):
        settings_from_env({**BASE, "ENVIRONMENT": "qa"})
    with pytest.raises(SettingsError, match="GCP_PROJECT_ID"):
        settings_from_env({"KMS_KEY_NAME": "k"})
