"""The local KMS server through the official client: round trip, key-name binding, tampering, restart."""

import os
import stat

import google_crc32c
import pytest
from google.api_core import exceptions

from devstack.standins.kms import KEY_FILE, start_kms_server
from shared.platform.clients import make_kms_client
from shared.platform.errors import TerminalError
from shared.platform.settings import settings_from_env
from shared.tenancy import credentials as keys

KEY = "projects/local-project/locations/global/keyRings/dps/cryptoKeys/credentials"
OTHER_KEY = "projects/local-project/locations/global/keyRings/dps/cryptoKeys/other"


def _client(port: int):
    settings = settings_from_env(
        {"GCP_PROJECT_ID": "local-project", "KMS_KEY_NAME": KEY, "KMS_API_ENDPOINT": f"127.0.0.1:{port}"}
    )
    return make_kms_client(settings)


@pytest.fixture
def kms(tmp_path):
    """A KMS server on a free port with its key under tmp_path; yields (client, data dir)."""
    server, port = start_kms_server("127.0.0.1", 0, tmp_path)
    yield _client(port), tmp_path
    server.stop(grace=None)


def test_encrypt_decrypt_round_trip_with_checksums(kms):
    client, data_dir = kms
    plaintext = b"sk-admin-secret"
    response = client.encrypt(
        request={"name": KEY, "plaintext": plaintext, "plaintext_crc32c": google_crc32c.value(plaintext)}
    )
    assert plaintext not in response.ciphertext
    assert response.name == f"{KEY}/cryptoKeyVersions/1"
    assert response.verified_plaintext_crc32c
    assert response.ciphertext_crc32c == google_crc32c.value(response.ciphertext)
    decrypted = client.decrypt(request={"name": KEY, "ciphertext": response.ciphertext})
    assert decrypted.plaintext == plaintext
    assert decrypted.plaintext_crc32c == google_crc32c.value(plaintext)
    # Fresh nonce every time: the same secret never gives the same ciphertext.
    assert client.encrypt(request={"name": KEY, "plaintext": plaintext}).ciphertext != response.ciphertext
    assert stat.S_IMODE(os.stat(data_dir / KEY_FILE).st_mode) == 0o600


def test_a_ciphertext_is_bound_to_its_key_name_and_aad(kms):
    client, _ = kms
    ciphertext = client.encrypt(request={"name": KEY, "plaintext": b"secret"}).ciphertext
    with pytest.raises(exceptions.InvalidArgument):
        client.decrypt(request={"name": OTHER_KEY, "ciphertext": ciphertext})
    bound = client.encrypt(
        request={"name": KEY, "plaintext": b"secret", "additional_authenticated_data": b"org-a"}
    ).ciphertext
    with pytest.raises(exceptions.InvalidArgument):
        client.decrypt(request={"name": KEY, "ciphertext": bound, "additional_authenticated_data": b"org-b"})
    assert (
        client.decrypt(
            request={"name": KEY, "ciphertext": bound, "additional_authenticated_data": b"org-a"}
        ).plaintext
        == b"secret"
    )


def test_tampered_garbage_or_misaddressed_requests_are_invalid_argument(kms):
    client, _ = kms
    ciphertext = bytearray(client.encrypt(request={"name": KEY, "plaintext": b"secret"}).ciphertext)
    ciphertext[-1] ^= 0x01
    for bad in (bytes(ciphertext), b"", b"not a ciphertext", bytes(ciphertext[:10])):
        with pytest.raises(exceptions.InvalidArgument, match="Decryption failed"):
            client.decrypt(request={"name": KEY, "ciphertext": bad})
    with pytest.raises(exceptions.InvalidArgument, match="checksum"):
        client.encrypt(request={"name": KEY, "plaintext": b"secret", "plaintext_crc32c": 1})
    with pytest.raises(exceptions.InvalidArgument, match="resource name"):
        client.encrypt(request={"name": "credentials", "plaintext": b"secret"})
    # shared.tenancy.credentials turns an unreadable credential into a terminal (not retried) failure.
    with pytest.raises(TerminalError):
        keys.decrypt_secret(client, KEY, bytes(ciphertext))


def test_the_key_survives_a_restart_and_is_created_only_once(tmp_path):
    server, port = start_kms_server("127.0.0.1", 0, tmp_path)
    ciphertext = keys.encrypt_secret(_client(port), KEY, "sk-admin-secret")
    key_bytes = (tmp_path / KEY_FILE).read_bytes()
    server.stop(grace=None)
    server, port = start_kms_server("127.0.0.1", 0, tmp_path)
    try:
        assert keys.decrypt_secret(_client(port), KEY, ciphertext) == "sk-admin-secret"
        assert (tmp_path / KEY_FILE).read_bytes() == key_bytes
    finally:
        server.stop(grace=None)
