"""The AWS credential path of the cloud, against moto's STS and S3: the function's Google ID token (here from an
injected fetcher) is exchanged with AssumeRoleWithWebIdentity for temporary credentials, which read the export;
the token is asked for the org's own audience (the role's trust policy pins it), and never stored or logged."""

from __future__ import annotations

import pytest

from devstack.standins.s3 import S3_STANDIN
from shared.providers.aws import constants as aws
from shared.providers.aws.s3 import s3_client
from tests.kit.steps import offline_settings

METADATA = {
    "bucket": "federated-exports",
    "prefix": "focus",
    "export_name": "fed",
    "region": "us-east-1",
    "role_arn": "arn:aws:iam::111122223333:role/dps-reader",
}
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.c2lnbmF0dXJl"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    from devstack.processes import free_port

    port = free_port()
    server = S3_STANDIN.launch(tmp_path_factory.mktemp("fed-s3"), port)
    try:
        server.wait_ready()
        yield S3_STANDIN.url(port)
    finally:
        server.stop()


def test_the_google_identity_is_federated_into_the_role_and_reads_the_bucket(endpoint):
    settings = offline_settings(AWS_STORAGE_ENDPOINT=endpoint)
    asked = []

    def fetch_token(audience: str) -> str:
        asked.append(audience)
        return TOKEN

    client = s3_client(
        METADATA, settings, 5.0, "dps-acmecorp-run1", token_fetcher=fetch_token, org_slug="acmecorp"
    )
    # The org's own audience: the role's trust policy pins it, so another org's run cannot assume this role.
    assert asked == [f"{aws.FEDERATION_AUDIENCE_PREFIX}acmecorp"]
    keys = client._request_signer._credentials  # the temporary credentials STS issued, not the local ones
    assert keys.access_key.startswith("ASIA") and keys.token
    client.create_bucket(Bucket=METADATA["bucket"])
    client.put_object(Bucket=METADATA["bucket"], Key="focus/fed/data/x.csv.gz", Body=b"x")
    assert [o["Key"] for o in client.list_objects_v2(Bucket=METADATA["bucket"])["Contents"]] == [
        "focus/fed/data/x.csv.gz"
    ]


def test_a_role_sts_cannot_take_fails_the_run_without_the_token(endpoint):
    from shared.platform.errors import TerminalError

    settings = offline_settings(AWS_STORAGE_ENDPOINT=endpoint)
    bad = {**METADATA, "role_arn": "not-an-arn"}  # STS refuses the request: terminal, retrying cannot help
    with pytest.raises(TerminalError) as refused:
        s3_client(
            bad, settings, 5.0, "dps-acmecorp-run2", token_fetcher=lambda audience: TOKEN, org_slug="acme"
        )
    assert refused.value.code == "CREDENTIAL_INVALID" and TOKEN not in refused.value.message
