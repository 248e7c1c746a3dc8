"""AWS credential checks at onboarding (shapes AWS accepts, no secret), its load window, and how S3/STS failures
map to the catalogue: no I/O."""

from __future__ import annotations

from datetime import date

import pytest

from shared.platform.errors import TerminalError, TransientError
from shared.providers.aws import PROVIDER
from shared.providers.aws.s3 import storage_error
from shared.providers.aws.source import S3Export
from shared.providers.contract import CredentialRejected
from shared.providers.kit.exports import Delivery, export_load_window
from shared.providers.kit.exports.state import days, days_to_load
from shared.tenancy.onboarding import AdminError, set_credential
from tests.kit.steps import offline_settings

GOOD = {
    "bucket": "acme-billing.exports-1",
    "prefix": "focus/daily",
    "export_name": "acme-focus",
    "region": "eu-central-1",
    "role_arn": "arn:aws:iam::123456789012:role/billing/dps-reader",
}


def test_a_well_formed_keyless_credential_is_accepted():
    PROVIDER.validate_credential("", GOOD, offline_settings())
    PROVIDER.validate_credential("", {**GOOD, "role_arn": "arn:aws-us-gov:iam::123456789012:role/r"}, None)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("role_arn", "arn:aws:iam::12345678901:role/r", "12-digit account"),
        ("role_arn", "arn:aws:iam::123456789012:user/alice", "arn:aws:iam::<12-digit account>:role/<name>"),
        ("role_arn", "arn:aws:iam::123456789012:role/", "role_arn"),
        ("bucket", "Acme-Exports", "not an S3 bucket name"),
        ("bucket", "ab", "3-63"),
        ("bucket", "acme..exports", "adjacent dots"),
        ("bucket", "10.0.0.1", "IP address"),
        ("bucket", "xn--acme", "reserves"),
        ("bucket", "acme-exports-", "ending with a letter or digit"),
        ("region", "EU-central-1", "not an AWS region"),
        ("prefix", "/focus", "without leading/trailing"),
        ("prefix", "focus/../other", "'..'"),
        ("export_name", "acme focus", "export's name"),
        ("bucket", "", "metadata.bucket is required"),
    ],
)
def test_metadata_aws_would_refuse_is_refused_with_what_to_fix(key, value, says):
    with pytest.raises(CredentialRejected) as refused:
        PROVIDER.validate_credential("", {**GOOD, key: value}, offline_settings())
    assert says in refused.value.message


def test_a_secret_given_for_the_keyless_provider_is_refused_before_anything_is_stored():
    # validate_credential runs before the org lookup: no warehouse is reached (offline settings would fail it).
    with pytest.raises(AdminError) as refused:
        set_credential(offline_settings(), "acmecorp", "aws", "AKIAIOSFODNN7EXAMPLE\n", GOOD)
    assert "takes no secret" in str(refused.value) and "--secret-file" in str(refused.value)
    assert "AKIA" not in str(refused.value)


def test_unknown_metadata_keys_are_refused():
    with pytest.raises(CredentialRejected, match="not read by AWS"):
        PROVIDER.validate_credential("", {**GOOD, "access_key": "AKIA..."}, offline_settings())


@pytest.mark.parametrize(
    ("start", "end", "window"),
    [
        (date(2025, 11, 20), date(2025, 11, 20), (date(2025, 11, 1), date(2025, 11, 30))),
        # Within two weeks of October's end, October may still be restated: it is reloaded too.
        (date(2025, 11, 3), date(2025, 11, 3), (date(2025, 10, 1), date(2025, 11, 30))),
        (date(2025, 12, 31), date(2026, 1, 2), (date(2025, 12, 1), date(2026, 1, 31))),
    ],
)
def test_a_run_loads_whole_billing_periods_and_the_restatable_previous_one(start, end, window):
    assert PROVIDER.load_window(start, end) == export_load_window(start, end) == window


def test_only_days_loaded_from_another_delivery_are_reloaded():
    october = Delivery(date(2025, 10, 1), "exec-b:1234", ())
    window = days(date(2025, 10, 1), date(2025, 10, 3))
    state = {
        (date(2025, 10, 1), date(2025, 10, 1)): ("exec-b:1234", 5),
        (date(2025, 10, 1), date(2025, 10, 2)): ("exec-a:9999", 5),
    }
    assert days_to_load(october, window, state, force=False) == [date(2025, 10, 2), date(2025, 10, 3)]
    assert days_to_load(october, window, state, force=True) == window


def test_a_manifest_naming_a_file_outside_the_export_is_refused():
    export = S3Export(None, {**GOOD})
    inside = "s3://acme-billing.exports-1/focus/daily/acme-focus/data/BILLING_PERIOD=2025-10/x/a.csv.gz"
    assert export._key_of(inside, date(2025, 10, 1)).endswith("a.csv.gz")
    for uri in (
        inside.replace("acme-billing.exports-1", "another-bucket"),
        inside.replace("BILLING_PERIOD=2025-10", "BILLING_PERIOD=2025-09"),
        "s3://acme-billing.exports-1/focus/daily/acme-focus/metadata/secrets.csv.gz",
    ):
        with pytest.raises(TerminalError, match="outside the export's data folder"):
            export._key_of(uri, date(2025, 10, 1))


def _client_error(status: int, code: str):
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )


@pytest.mark.parametrize(
    ("status", "code", "wanted", "transient"),
    [
        (503, "SlowDown", "PROVIDER_RATE_LIMITED", True),
        (500, "InternalError", "PROVIDER_UNAVAILABLE", True),
        (403, "InvalidAccessKeyId", "PROVIDER_AUTH_FAILED", False),
        (400, "InvalidIdentityToken", "PROVIDER_AUTH_FAILED", False),
        (403, "AccessDenied", "PROVIDER_PERMISSION_DENIED", False),
        (404, "NoSuchBucket", "PROVIDER_REQUEST_REJECTED", False),
    ],
)
def test_s3_and_sts_errors_map_to_the_catalogue(status, code, wanted, transient):
    error = storage_error(_client_error(status, code), "reading a manifest")
    assert error.code == wanted and isinstance(error, TransientError) is transient
