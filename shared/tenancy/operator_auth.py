"""Who operates the service: the root key (X-CA-Root-Key) and the Google-signed OIDC identities of Cloud Scheduler
and Cloud Tasks. Org API keys are shared/tenancy/auth.py's."""

from __future__ import annotations

import hmac

from shared.platform.errors import ApiError
from shared.platform.settings import Settings


def verify_root_key(settings: Settings, presented: str | None) -> None:
    """401 unless the X-CA-Root-Key header equals the configured root key (constant time)."""
    expected = settings.root_key
    if not expected or not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError("INVALID_ROOT_KEY", "Missing or invalid X-CA-Root-Key header.")


def verify_scheduler_caller(settings: Settings, headers, verify_token=None) -> str:
    """Who may trigger schedules: the root key, or Cloud Scheduler's OIDC identity (the service account named by
    SCHEDULER_SERVICE_ACCOUNT, for the audience SCHEDULER_AUDIENCE); returns which one. 401 otherwise."""
    return _verify_root_key_or_identity(
        settings, headers, settings.scheduler_service_account, "the scheduler's", verify_token
    )


def verify_tasks_caller(settings: Settings, headers, verify_token=None) -> str:
    """Who may run a scheduled task (process-queue): the root key (operators), or the OIDC identity Cloud Tasks
    signs each task with (TASKS_SERVICE_ACCOUNT, audience SCHEDULER_AUDIENCE); returns which one. 401 otherwise."""
    return _verify_root_key_or_identity(
        settings, headers, settings.tasks_service_account, "the tasks'", verify_token
    )


def _verify_root_key_or_identity(
    settings: Settings, headers, service_account: str | None, whose: str, verify_token=None
) -> str:
    """ "root_key" for a valid X-CA-Root-Key, "oidc" for a Google-signed token of `service_account`; else 401."""
    if headers.get("X-CA-Root-Key"):
        verify_root_key(settings, headers.get("X-CA-Root-Key"))
        return "root_key"
    bearer = headers.get("Authorization", "")
    if service_account and bearer.startswith("Bearer "):
        claims = _oidc_claims(bearer.removeprefix("Bearer ").strip(), settings, verify_token)
        email = str(claims.get("email", "")) if claims else ""
        if (
            claims
            and claims.get("email_verified")
            and hmac.compare_digest(email.encode(), service_account.encode())
        ):
            return "oidc"
    raise ApiError("INVALID_ROOT_KEY", f"Send X-CA-Root-Key, or call as {whose} service account (OIDC).")


def _oidc_claims(token: str, settings: Settings, verify_token=None) -> dict | None:
    """The verified claims of a Google-signed OIDC token for our audience, or None (bad signature, expired,
    another audience). `verify_token(token, audience)` is injectable; the default checks Google's keys."""
    audience = settings.scheduler_audience or settings.scheduler_target_url
    if not audience or len(token) > 4096:
        return None
    if verify_token is None:
        from google.auth.transport import requests as google_requests
        from google.oauth2 import id_token

        def verify_token(value, aud):
            return id_token.verify_oauth2_token(value, google_requests.Request(), audience=aud)

    try:
        return verify_token(token, audience)
    except Exception:  # noqa: BLE001 - any verification failure is simply "not the scheduler"
        return None
