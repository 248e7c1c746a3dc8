"""What every `dps` command shares: settings (environment, or the local stack's stack.json), the api function's
URL, output as text or one JSON object, and calls of the api's admin routes."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from shared.platform.settings import REPO_ROOT, Settings, SettingsError, settings_from_env

LOCAL_DIR = Path(os.environ.get("DPS_LOCAL_DIR", REPO_ROOT / ".local"))


def load_cli_settings() -> Settings:
    """Settings from the environment, or from the running local stack's .local/stack.json."""
    if os.environ.get("GCP_PROJECT_ID"):
        return settings_from_env()
    stack_file = LOCAL_DIR / "stack.json"
    if not stack_file.exists():
        raise SettingsError("no GCP_PROJECT_ID in the environment and no local stack: run `make up` first")
    return settings_from_env(json.loads(stack_file.read_text())["env"])


def control_store():
    """The control plane's Firestore client (SaaS plans, budgets), for the commands that edit its documents."""
    from shared.runs.control import control_db

    return control_db(load_cli_settings())


@contextlib.contextmanager
def store_refusals():
    """A store's API errors as the CLI's refusals (`error: CODE: ...`, exit 2)."""
    from shared.platform.errors import ApiError
    from shared.tenancy.onboarding import AdminError

    try:
        yield
    except ApiError as error:
        raise AdminError(f"{error.code}: {error.message}") from None


def emit(args, payload: dict, text: str) -> None:
    """Print `text`, or `payload` as one JSON object with --json."""
    print(json.dumps(payload, default=str) if args.json else text)


def api_url(args) -> str:
    """The api function's base URL: --api-url, DPS_API_URL, or the running local stack's."""
    url = args.api_url or os.environ.get("DPS_API_URL")
    if not url:
        stack_file = LOCAL_DIR / "stack.json"
        if not stack_file.exists():
            raise SettingsError("no --api-url, no DPS_API_URL and no local stack: run `make up` first")
        url = json.loads(stack_file.read_text())["api_url"]
    return url.rstrip("/")


def admin_call(args, method: str, path: str, **kwargs) -> dict:
    """Call an admin route of the api function with the root key; SettingsError naming the refusal."""
    import httpx

    response = httpx.request(
        method,
        f"{api_url(args)}/api/v1/admin/{path}",
        timeout=300,
        headers={"X-CA-Root-Key": load_cli_settings().root_key},
        **kwargs,
    )
    answer = response.json()
    if response.status_code != 200:
        raise SettingsError(f"{path} answered {response.status_code}: {answer.get('error', answer)}")
    return answer
