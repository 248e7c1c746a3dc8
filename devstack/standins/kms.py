"""A small local Cloud KMS: Encrypt and Decrypt over gRPC with AES-256-GCM, for the official client."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

SERVICE = "google.cloud.kms.v1.KeyManagementService"
KEY_FILE = "kms-master.key"
FORMAT_VERSION = b"\x01"  # leading byte of every ciphertext, so the format can change later
NONCE_BYTES = 12
MAX_PLAINTEXT_BYTES = 64 * 1024  # the real service's limit for Encrypt
# projects/P/locations/L/keyRings/R/cryptoKeys/K, optionally .../cryptoKeyVersions/V
KEY_NAME = re.compile(
    r"(projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+)(/cryptoKeyVersions/[^/]+)?"
)


def load_or_create_key(data_dir: Path) -> bytes:
    """The 32-byte master key kept in data_dir; created once with owner-only permissions."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # atomic and refuses to overwrite: a concurrent first start keeps one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} is not a 32-byte key; delete it only if nothing encrypted with it matters")
    return key


def _crc32c(data: bytes) -> int:
    import google_crc32c

    return google_crc32c.value(data)


class KmsServicer:
    """Encrypt/Decrypt with one AES-256-GCM key; the crypto key name is bound in as associated data."""

    def __init__(self, key: bytes):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    @staticmethod
    def _key_name(name: str, context) -> str:
        import grpc

        match = KEY_NAME.fullmatch(name or "")
        if not match:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid resource name {name!r}")
        # Encrypt may name a key version; ciphertexts bind the crypto key so Decrypt (key name only) matches.
        return match.group(1)

    @staticmethod
    def _check_crc(data: bytes, expected: int | None, field: str, context) -> None:
        import grpc

        if expected is not None and _crc32c(data) != expected:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"The checksum in field {field} did not match")

    @staticmethod
    def _aad(key_name: str, extra: bytes) -> bytes:
        # Length-prefix the name so (name, extra) pairs can never collide by concatenation.
        name = key_name.encode()
        return len(name).to_bytes(4, "big") + name + bytes(extra)

    def encrypt(self, request, context):
        """KeyManagementService.Encrypt."""
        import grpc
        from google.cloud import kms_v1

        key_name = self._key_name(request.name, context)
        plaintext, aad = bytes(request.plaintext), bytes(request.additional_authenticated_data)
        if len(plaintext) > MAX_PLAINTEXT_BYTES:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "The plaintext is larger than 64 KiB")
        self._check_crc(plaintext, request.plaintext_crc32c, "plaintext_crc32c", context)
        self._check_crc(aad, request.additional_authenticated_data_crc32c, "aad_crc32c", context)
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = FORMAT_VERSION + nonce + self._aead.encrypt(nonce, plaintext, self._aad(key_name, aad))
        return kms_v1.EncryptResponse(
            name=f"{key_name}/cryptoKeyVersions/1",
            ciphertext=ciphertext,
            ciphertext_crc32c=_crc32c(ciphertext),
            verified_plaintext_crc32c=request.plaintext_crc32c is not None,
            verified_additional_authenticated_data_crc32c=(
                request.additional_authenticated_data_crc32c is not None
            ),
            protection_level=kms_v1.ProtectionLevel.SOFTWARE,
        )

    def decrypt(self, request, context):
        """KeyManagementService.Decrypt; anything that does not authenticate is INVALID_ARGUMENT."""
        import grpc
        from cryptography.exceptions import InvalidTag
        from google.cloud import kms_v1

        key_name = self._key_name(request.name, context)
        ciphertext, aad = bytes(request.ciphertext), bytes(request.additional_authenticated_data)
        self._check_crc(ciphertext, request.ciphertext_crc32c, "ciphertext_crc32c", context)
        self._check_crc(aad, request.additional_authenticated_data_crc32c, "aad_crc32c", context)
        header = len(FORMAT_VERSION) + NONCE_BYTES
        plaintext = None
        if ciphertext[:1] == FORMAT_VERSION and len(ciphertext) > header:
            nonce = ciphertext[1:header]
            try:
                plaintext = self._aead.decrypt(nonce, ciphertext[header:], self._aad(key_name, aad))
            except InvalidTag:
                pass
        if plaintext is None:
            # The real service's wording: wrong key, wrong AAD and tampering look the same to the caller.
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Decryption failed: verify that 'name' refers to the correct CryptoKey.",
            )
        return kms_v1.DecryptResponse(
            plaintext=plaintext,
            plaintext_crc32c=_crc32c(plaintext),
            used_primary=True,
            protection_level=kms_v1.ProtectionLevel.SOFTWARE,
        )


def _handler(servicer: KmsServicer):
    import grpc
    from google.cloud import kms_v1

    def method(function, request_type, response_type):
        return grpc.unary_unary_rpc_method_handler(
            function,
            request_deserializer=request_type.deserialize,
            response_serializer=response_type.serialize,
        )

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Encrypt": method(servicer.encrypt, kms_v1.EncryptRequest, kms_v1.EncryptResponse),
            "Decrypt": method(servicer.decrypt, kms_v1.DecryptRequest, kms_v1.DecryptResponse),
        },
    )


def start_kms_server(host: str, port: int, data_dir: Path):
    """Serve KMS on host:port (0: a free port) on background threads; returns (grpc.Server, bound port)."""
    from concurrent import futures

    import grpc

    servicer = KmsServicer(load_or_create_key(Path(data_dir)))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="local-kms"))
    server.add_generic_rpc_handlers((_handler(servicer),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"the local KMS server cannot listen on {host}:{port}")
    server.start()
    return server, bound
