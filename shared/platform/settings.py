"""Settings read from the environment (seed variable names where they exist), validated once per process."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("local", "stage", "prod")
REPO_ROOT = Path(__file__).resolve().parents[2]
# Deployed functions carry configs/ beside shared/; CONFIG_DIR lets an operator point elsewhere.
DEFAULT_CONFIG_DIR = REPO_ROOT / "configs"


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable and what to set."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Process-wide configuration; build with `load_settings()`."""

    project: str
    environment: str
    root_key: str
    kms_key_name: str
    key_pepper: str
    config_dir: Path
    central_dataset: str = "organizations"
    bigquery_location: str = "US"
    bigquery_api_endpoint: str | None = None
    # The Storage Read API (gRPC host:port) beside a local BigQuery; unset means Google's, or REST if absent.
    bigquery_storage_api_endpoint: str | None = None
    kms_api_endpoint: str | None = None
    pubsub_emulator_host: str | None = None
    # Firestore (Native mode) holds the control state; FIRESTORE_EMULATOR_HOST points the client at the emulator.
    firestore_database: str = "(default)"
    firestore_emulator_host: str | None = None
    topic_prefix: str = "pipeline-runs"
    # The longest one Pub/Sub push delivery may work (well inside the 600 s push limit): longer work fans out.
    delivery_max_seconds: float = 300.0
    # <NAME>_API_BASE_URL of HTTP providers (e.g. OPENAI_API_BASE_URL): the operator's API base for every org.
    api_base_urls: tuple[tuple[str, str], ...] = ()
    provider_allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    # <NAME>_STORAGE_ENDPOINT of object-storage providers (e.g. AWS_STORAGE_ENDPOINT): a stand-in's URL replacing
    # the cloud's own storage endpoint (local and tests only; unset means the real service).
    storage_endpoints: tuple[tuple[str, str], ...] = ()
    # Scheduler: the Cloud Tasks queue that carries one task per (org, pipeline, day), the base URL its tasks
    # call (this api function's), and who besides the root key may call the trigger (Cloud Scheduler's OIDC).
    tasks_queue: str | None = None
    tasks_api_endpoint: str | None = None
    scheduler_target_url: str | None = None
    scheduler_service_account: str | None = None
    scheduler_audience: str | None = None
    # The identity whose OIDC token Cloud Tasks adds to each task (process-queue accepts it beside the root key).
    tasks_service_account: str | None = None
    # Service accounts of the provider functions: WRITER on every org dataset (granted when one is created).
    worker_service_accounts: tuple[str, ...] = ()
    # The gcp function's own service account: what an org grants read access to its billing export in granted
    # mode (GCP_EXPORT_READER; by default the deploy's naming, dps-<environment>-gcp@<project>).
    gcp_export_reader: str | None = None

    @property
    def export_reader(self) -> str:
        """The service account a granted-mode org grants BigQuery Data Viewer on its export dataset."""
        return self.gcp_export_reader or f"dps-{self.environment}-gcp@{self.project}.iam.gserviceaccount.com"

    @property
    def is_local(self) -> bool:
        return self.environment == "local"

    def org_dataset(self, org_slug: str) -> str:
        """The BigQuery dataset that holds one org's data in this environment."""
        return f"{org_slug}_{self.environment}"

    def storage_endpoint(self, provider: str) -> str | None:
        """The stand-in storage endpoint of an object-storage provider (`<PROVIDER>_STORAGE_ENDPOINT`), if set."""
        return dict(self.storage_endpoints).get(provider)

    def api_base_url(self, provider: str, default: str) -> str:
        """The operator's API base for an HTTP provider (`<PROVIDER>_API_BASE_URL`), else `default`."""
        return dict(self.api_base_urls).get(provider, default)

    def topic_for(self, provider: str) -> str:
        """The Pub/Sub topic id that carries run requests for one provider."""
        return f"{self.topic_prefix}-{provider}"

    def dead_letter_topic_for(self, provider: str) -> str:
        """The topic a provider's undeliverable run requests go to (terraform/modules/run_topic names it so)."""
        return f"{self.topic_for(provider)}-dead-letter"

    def dead_letter_subscription_for(self, provider: str) -> str:
        """The pull subscription that holds a provider's dead letters until they are drained."""
        return f"{self.topic_for(provider)}-dead-letter-hold"


def _require(env: dict[str, str], name: str, hint: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set: {hint}")
    return value


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    """Build and validate settings from a mapping of environment variables."""
    env = dict(os.environ if env is None else env)
    environment = env.get("ENVIRONMENT", "local").strip().lower()
    if environment not in ENVIRONMENTS:
        raise SettingsError(f"ENVIRONMENT={environment!r} is not one of {', '.join(ENVIRONMENTS)}")
    project = _require(env, "GCP_PROJECT_ID", "the Google Cloud project id")
    root_key = env.get("CA_ROOT_API_KEY", "")
    # Workers authenticate no one: Terraform mounts neither secret there and sets AUTH_SECRETS=none, so the
    # root key stays empty (verify_root_key refuses everything) and no key hash can be computed.
    needs_secrets = environment != "local" and env.get("AUTH_SECRETS", "").strip().lower() != "none"
    if needs_secrets and len(root_key) < 32:
        raise SettingsError("CA_ROOT_API_KEY must be at least 32 characters outside the local environment")
    pepper = env.get("API_KEY_PEPPER", "")
    if needs_secrets and len(pepper) < 32:
        raise SettingsError("API_KEY_PEPPER must be at least 32 characters outside the local environment")
    return Settings(
        project=project,
        environment=environment,
        root_key=root_key,
        kms_key_name=_require(env, "KMS_KEY_NAME", "projects/P/locations/L/keyRings/R/cryptoKeys/K"),
        key_pepper=pepper or ("local-pepper-not-for-production" if environment == "local" else ""),
        config_dir=Path(env.get("CONFIG_DIR") or DEFAULT_CONFIG_DIR),
        central_dataset=env.get("CENTRAL_DATASET", "organizations"),
        bigquery_location=env.get("BIGQUERY_LOCATION", "US"),
        bigquery_api_endpoint=env.get("BIGQUERY_API_ENDPOINT") or None,
        bigquery_storage_api_endpoint=env.get("BIGQUERY_STORAGE_API_ENDPOINT") or None,
        kms_api_endpoint=env.get("KMS_API_ENDPOINT") or None,
        pubsub_emulator_host=env.get("PUBSUB_EMULATOR_HOST") or None,
        firestore_database=env.get("FIRESTORE_DATABASE") or "(default)",
        firestore_emulator_host=env.get("FIRESTORE_EMULATOR_HOST") or None,
        topic_prefix=env.get("PIPELINE_TOPIC_PREFIX", "pipeline-runs"),
        delivery_max_seconds=_delivery_bound(env.get("DELIVERY_MAX_SECONDS", "")),
        api_base_urls=_api_base_urls(env),
        provider_allowed_hosts=_split(env.get("PROVIDER_ALLOWED_HOSTS", "")),
        storage_endpoints=_suffixed(env, "_STORAGE_ENDPOINT"),
        tasks_queue=_queue_path(env.get("CLOUD_TASKS_QUEUE", "")),
        tasks_api_endpoint=env.get("CLOUD_TASKS_API_ENDPOINT") or None,
        scheduler_target_url=(env.get("SCHEDULER_TARGET_URL") or "").rstrip("/") or None,
        scheduler_service_account=env.get("SCHEDULER_SERVICE_ACCOUNT") or None,
        scheduler_audience=env.get("SCHEDULER_AUDIENCE") or None,
        tasks_service_account=env.get("TASKS_SERVICE_ACCOUNT") or None,
        worker_service_accounts=tuple(
            part.strip() for part in env.get("WORKER_SERVICE_ACCOUNTS", "").split(",") if part.strip()
        ),
        gcp_export_reader=env.get("GCP_EXPORT_READER") or None,
    )


def _api_base_urls(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """(provider, URL) of every non-empty `<PROVIDER>_API_BASE_URL` (the seed's OPENAI_API_BASE_URL and kin)."""
    return _suffixed(env, "_API_BASE_URL")


def _suffixed(env: dict[str, str], suffix: str) -> tuple[tuple[str, str], ...]:
    """(provider, URL) of every non-empty `<PROVIDER><suffix>` variable, the provider lower-cased."""
    found = []
    for name, value in sorted(env.items()):
        match = re.fullmatch(rf"([A-Z][A-Z0-9_]*){suffix}", name)
        if match and value.strip():
            found.append((match.group(1).lower(), value.strip().rstrip("/")))
    return tuple(found)


def _delivery_bound(value: str) -> float:
    """DELIVERY_MAX_SECONDS: seconds one push delivery may work, 1..540 (the push limit is 600 s); default 300."""
    if not value.strip():
        return 300.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 1 <= seconds <= 540:
        raise SettingsError(f"DELIVERY_MAX_SECONDS={value!r} must be a number of seconds from 1 to 540")
    return seconds


def _queue_path(value: str) -> str | None:
    """CLOUD_TASKS_QUEUE as projects/P/locations/L/queues/Q; SettingsError if it is something else."""
    value = value.strip()
    if value and not re.fullmatch(r"projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]{1,100}", value):
        raise SettingsError(f"CLOUD_TASKS_QUEUE={value!r} must be projects/P/locations/L/queues/Q")
    return value or None


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return settings_from_env()


def central_table(settings: Settings, table: str) -> str:
    """Fully qualified id of a table in the central dataset."""
    return f"{settings.project}.{settings.central_dataset}.{table}"
