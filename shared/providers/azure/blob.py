"""The org's Blob Storage, through the official azure-storage-blob client: signed in by workload identity federation
in the cloud, with Azurite's development account locally; every failure mapped to the run error catalogue."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

from shared.platform.errors import TerminalError, TransientError
from shared.providers.azure import constants as az
from shared.providers.contract import StepContext

DEFAULT_TIMEOUT_SECONDS = 60.0


def token_audience(org_slug: str) -> str:
    """The audience of the org's client assertions, which its app's federated credential lists."""
    return f"{az.TOKEN_AUDIENCE_PREFIX}{org_slug}"


def _google_assertion(org_slug: str):
    """A function giving the function's Google-signed ID token for the org's audience (the client assertion)."""

    def assertion() -> str:
        import google.auth.transport.requests
        import google.oauth2.id_token

        request = google.auth.transport.requests.Request()
        return google.oauth2.id_token.fetch_id_token(request, token_audience(org_slug))

    return assertion


def container_client(ctx: StepContext):
    """A ContainerClient of the credential's container: request timeouts from ctx.request_timeout, one SDK retry
    at most (the platform's classification and redelivery retry the rest)."""
    from azure.storage.blob import BlobServiceClient, LinearRetry

    metadata = ctx.credential.metadata
    timeout = ctx.request_timeout or DEFAULT_TIMEOUT_SECONDS
    endpoint = ctx.settings.storage_endpoint("azure")
    if endpoint:  # the local stand-in: Azurite's development account, whatever account the org names
        url, credential = (
            f"{endpoint.rstrip('/')}/{az.DEV_ACCOUNT}",
            {
                "account_name": az.DEV_ACCOUNT,
                "account_key": az.DEV_ACCOUNT_KEY,
            },
        )
    else:
        from azure.identity import ClientAssertionCredential

        url = az.BLOB_URL.format(account=metadata["storage_account"])
        credential = ClientAssertionCredential(
            metadata["tenant_id"], metadata["client_id"], _google_assertion(ctx.org_slug)
        )
    service = BlobServiceClient(
        url,
        credential=credential,
        connection_timeout=timeout,
        read_timeout=timeout,
        retry_policy=LinearRetry(backoff=0.5, retry_total=1, random_jitter_range=0),
    )
    return service.get_container_client(metadata["container"])


def _status_error(exc, what: str):
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None) or ""
    said = f"{what}: HTTP {status} {code}".rstrip()
    if status == 429 or code in ("ServerBusy", "SlowDown"):
        return TransientError("PROVIDER_RATE_LIMITED", f"{said} (Blob Storage throttled the request)")
    if status is not None and status >= 500:
        return TransientError("PROVIDER_UNAVAILABLE", f"{said} (Blob Storage is unavailable)")
    if status == 401:
        return TerminalError("PROVIDER_AUTH_FAILED", f"{said}: the service's identity was not accepted")
    if status == 403:
        return TerminalError(
            "PROVIDER_PERMISSION_DENIED",
            f"{said}: grant the app registration (client_id) Storage Blob Data Reader on the container",
        )
    if status == 404:
        return TerminalError(
            "PROVIDER_REQUEST_REJECTED", f"{said}: check metadata.storage_account and metadata.container"
        )
    return TerminalError("PROVIDER_REQUEST_REJECTED", f"{said} (Blob Storage refused the request)")


def classify(exc: Exception, what: str) -> Exception:
    """The catalogue's error for an Azure SDK exception met while doing `what` (messages name no secret)."""
    from azure.core import exceptions as ax

    if isinstance(exc, ax.ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        # The token exchange itself failed (Entra ID refused the federated assertion).
        return TerminalError(
            "PROVIDER_AUTH_FAILED",
            f"{what}: Entra ID refused the service's identity; check tenant_id, client_id and the app's "
            "federated credential",
        )
    if isinstance(exc, (ax.ServiceRequestTimeoutError, ax.ServiceResponseTimeoutError)):
        return TransientError("PROVIDER_TIMEOUT", f"{what}: Blob Storage did not answer in time")
    if isinstance(exc, ax.IncompleteReadError):
        return TransientError("PROVIDER_UNREACHABLE", f"{what}: the connection closed before the body ended")
    if isinstance(exc, ax.HttpResponseError) and getattr(exc, "status_code", None) is not None:
        return _status_error(exc, what)
    if isinstance(exc, (ax.ServiceRequestError, ax.ServiceResponseError)):
        timed_out = "timed out" in str(exc).lower() or "timeout" in type(exc.inner_exception).__name__.lower()
        if timed_out:
            return TransientError("PROVIDER_TIMEOUT", f"{what}: Blob Storage did not answer in time")
        return TransientError("PROVIDER_UNREACHABLE", f"{what}: Blob Storage could not be reached")
    if isinstance(exc, ax.DecodeError | ax.DeserializationError):
        return TransientError("PROVIDER_BAD_RESPONSE", f"{what}: Blob Storage's answer could not be read")
    if isinstance(exc, ax.AzureError):
        return TransientError("PROVIDER_UNREACHABLE", f"{what}: {type(exc).__name__}")
    return exc


@contextlib.contextmanager
def mapped(what: str) -> Iterator[None]:
    """Raise the catalogue's error instead of any Azure SDK exception raised inside the block."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except AzureError as exc:
        raise classify(exc, what) from None


class BlobReader(io.RawIOBase):
    """One blob as a seekable binary stream read by ranged GETs (a read-ahead of READ_AHEAD_BYTES at a time):
    Parquet footers and row groups are fetched as the reader asks, never the whole blob; SDK errors mapped."""

    READ_AHEAD_BYTES = 8 << 20

    def __init__(self, container, name: str, size: int):
        super().__init__()
        self.name, self.size, self._position = name, size, 0
        self._blob = container.get_blob_client(name)
        self._buffer, self._buffer_start = b"", 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self._position + size)
        if end <= self._position:
            return b""
        buffered_end = self._buffer_start + len(self._buffer)
        if not (self._buffer_start <= self._position and end <= buffered_end):
            length = max(end - self._position, min(self.READ_AHEAD_BYTES, self.size - self._position))
            with mapped(f"reading blob {self.name}"):
                self._buffer = self._blob.download_blob(offset=self._position, length=length).readall()
            self._buffer_start = self._position
            if len(self._buffer) < end - self._position:
                raise TransientError(
                    "PROVIDER_UNREACHABLE", f"reading blob {self.name}: the body ended early"
                )
        start = self._position - self._buffer_start
        data = self._buffer[start : start + end - self._position]
        self._position += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._buffer = b""
        super().close()
