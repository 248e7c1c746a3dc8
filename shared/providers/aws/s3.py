"""The S3 client of an org's export: web identity federation in the cloud (the function's Google ID token →
STS AssumeRoleWithWebIdentity → temporary credentials; nothing stored), the stand-in's local credentials when
AWS_STORAGE_ENDPOINT is set; timeouts from the step, few retries; botocore errors mapped to the catalogue."""

from __future__ import annotations

from collections.abc import Callable

from shared.platform.errors import PipelineError, TerminalError, TransientError
from shared.providers.aws import constants as aws

# The stand-in accepts any key: these name the local stack, they guard nothing.
LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY = "local-dps", "local-dps-secret"

_THROTTLED = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
}
_AUTH = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "InvalidIdentityToken",
    "IDPRejectedClaim",
    "InvalidClientTokenId",
}


def aws_errors() -> tuple[type[Exception], ...]:
    """What a boto3 call raises when the service or the network fails (botocore's classes, socket errors)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError)


def client_config(timeout: float | None, region: str):
    """botocore Config: the step's request timeout for connect and read, "standard" retries kept small (the
    platform's classification and redelivery retry a run; the SDK's own backoff must not eat the step)."""
    from botocore.config import Config

    seconds = timeout or aws.DEFAULT_REQUEST_TIMEOUT
    return Config(
        region_name=region,
        connect_timeout=seconds,
        read_timeout=seconds,
        retries={"mode": "standard", "max_attempts": aws.MAX_ATTEMPTS},
        s3={"addressing_style": "path"},
    )


def google_id_token(audience: str) -> str:
    """The function's Google-signed ID token for `audience` (the metadata server of its service account)."""
    import google.auth.transport.requests
    import google.oauth2.id_token

    return google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)


def federation_audience(org_slug: str) -> str:
    """The audience of the org's ID tokens, which its role's trust policy pins (accounts.google.com:oaud)."""
    return f"{aws.FEDERATION_AUDIENCE_PREFIX}{org_slug}"


def federated_credentials(
    role_arn: str,
    session: str,
    config,
    audience: str,
    token_fetcher: Callable[[str], str] = google_id_token,
    sts_endpoint: str | None = None,
) -> dict:
    """Temporary credentials of `role_arn` for the caller's Google identity, asked for `audience` (web identity
    federation needs no AWS credentials of its own: the signed token is the proof)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    sts = boto3.client(
        "sts", endpoint_url=sts_endpoint, config=config.merge(Config(signature_version=UNSIGNED))
    )
    try:
        answer = sts.assume_role_with_web_identity(
            RoleArn=role_arn,
            RoleSessionName=session[:64],
            WebIdentityToken=token_fetcher(audience),
            DurationSeconds=3600,
        )
    except aws_errors() as exc:
        raise storage_error(exc, "assuming the export's role") from None
    credentials = answer["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def s3_client(
    metadata: dict, settings, timeout: float | None, session: str, token_fetcher=None, org_slug=None
):
    """An S3 client for the org's bucket: the stand-in with local credentials when one is configured, else the
    real service with the role's federated credentials (asked with the org's own audience)."""
    import boto3

    config = client_config(timeout, metadata["region"])
    endpoint = settings.storage_endpoint("aws")
    federate = (
        endpoint is None or token_fetcher is not None
    )  # the stand-in's STS too when a test injects a token
    keys = {"aws_access_key_id": LOCAL_ACCESS_KEY, "aws_secret_access_key": LOCAL_SECRET_KEY}
    if federate:
        if not org_slug:
            raise ValueError("federated S3 access needs the org (its audience)")
        keys = federated_credentials(
            metadata["role_arn"], session, config, federation_audience(org_slug), token_fetcher or google_id_token,
            endpoint,
        )  # fmt: skip
    return boto3.client("s3", endpoint_url=endpoint, config=config, **keys)


def storage_error(exc: Exception, doing: str) -> PipelineError:
    """The catalogue's error for a failed S3/STS call (no credential or token in the message)."""
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    if isinstance(exc, PipelineError):
        return exc
    if isinstance(exc, bx.ClientError):
        return _client_error(exc, doing)
    if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectTimeoutError)):
        return TransientError("PROVIDER_TIMEOUT", f"S3 did not answer in time while {doing}.")
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError, bx.ConnectionError)):
        return TransientError("PROVIDER_UNREACHABLE", f"S3 could not be reached while {doing}.")
    if isinstance(exc, (bx.IncompleteReadError, bx.ResponseStreamingError)):
        return TransientError("PROVIDER_UNREACHABLE", f"S3's answer was cut short while {doing}.")
    if isinstance(exc, bx.ParamValidationError):  # metadata onboarding should have refused
        return TerminalError("CREDENTIAL_INVALID", f"AWS refused the request's parameters while {doing}.")
    if isinstance(exc, ResponseParserError):
        return TransientError("PROVIDER_BAD_RESPONSE", f"S3's answer could not be parsed while {doing}.")
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return TerminalError("CREDENTIAL_INVALID", f"No AWS credentials while {doing}.")
    if isinstance(exc, OSError):  # a socket error below botocore's own classes (reset, cut stream)
        return TransientError("PROVIDER_UNREACHABLE", f"S3's connection failed while {doing}.")
    raise exc


def _client_error(exc, doing: str) -> PipelineError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    said = f"S3 answered {status} {code} while {doing}"
    if status == 429 or code in _THROTTLED:
        retry_after = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("retry-after")
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        return TransientError("PROVIDER_RATE_LIMITED", f"{said}.", retry_after=wait)
    if status >= 500:
        return TransientError("PROVIDER_UNAVAILABLE", f"{said}.")
    if status == 401 or code in _AUTH:
        return TerminalError("PROVIDER_AUTH_FAILED", f"{said}: check metadata.role_arn and its trust policy.")
    if status == 403:
        return TerminalError(
            "PROVIDER_PERMISSION_DENIED", f"{said}: let the role s3:GetObject and s3:ListBucket the export."
        )
    if code == "NoSuchBucket":
        return TerminalError("PROVIDER_REQUEST_REJECTED", f"{said}: check metadata.bucket.")
    return TerminalError("PROVIDER_REQUEST_REJECTED", f"{said}.")
