"""The provider contract: what a cost source declares (its steps, credential rules, where it reads from, its FOCUS
identity) and what its steps are given (a StepContext with the org's Credential) and are (Processors).

Onboarding, the worker, the local stack, the CLI and the demo read a `Provider`; none branches on a provider's
name. A provider lives in its own folder, `shared/providers/<name>/`, whose `__init__.py` declares `PROVIDER`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, ClassVar

from shared.platform.errors import TerminalError
from shared.platform.settings import Settings


@dataclass(frozen=True)
class Credential:
    """A decrypted provider credential. Never log `secret`; repr hides it."""

    provider: str
    secret: str = field(repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepContext:
    """Everything one step needs; built by the executor for each attempt."""

    org_slug: str
    run_id: str
    start_date: date  # inclusive
    end_date: date  # inclusive
    credential: Credential
    settings: Settings
    deadline: float  # time.monotonic() value after which the step must stop
    http_transport: Any = None  # an httpx transport to inject (tests); None means the real network
    # How request retries wait: the executor's sleep, so tests that script provider faults run fast.
    sleep: Callable[[float], None] = time.sleep
    request_timeout: float | None = None  # seconds one provider request may take; None: the kit's default
    force_refresh: bool = False  # reload everything in range, even what the provider says did not change
    destination_table: str | None = None  # the step's destination (what a `run` processor writes)
    # A warehouse-table source's clients (tests inject failing ones); None: the provider opens its own.
    source_clients: Any = None
    # True for a slice of a fanned-out run: [start_date, end_date] is exactly the partitions to load (the run's
    # window, look-back included, was planned once and split); False: the provider widens it as it needs.
    exact_window: bool = False

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()

    def ensure_time_left(self, seconds: float, what: str) -> None:
        """Raise STEP_TIMEOUT (transient: the step is retried) unless `seconds` remain: a step never starts a
        commit its deadline could cut short."""
        from shared.platform.errors import TransientError

        if self.seconds_left() < seconds:
            raise TransientError("STEP_TIMEOUT", f"Not enough of the step's time left to commit {what}.")


@dataclass(frozen=True)
class Processor:
    """One ps_type, in one of two forms.

    Rows: `extract` pulls raw provider records and `transform` turns them into rows; the executor then replaces the
    step's slice of its destination with them. Run: `run(ctx, warehouse)` does the whole step itself (SQL inside the
    warehouse, or Arrow batches: data too big for Python rows), loads atomically, and returns the rows written.
    """

    extract: Callable[[StepContext], Iterator[dict]] | None = None
    transform: Callable[[Iterable[dict], StepContext], list[dict]] | None = None
    run: Callable[[StepContext, Any], int] | None = None

    def __post_init__(self):
        rows_form = (self.extract is not None, self.transform is not None)
        if rows_form != ((True, True) if self.run is None else (False, False)):
            raise ValueError("a Processor has either extract and transform, or run")


@dataclass(frozen=True)
class HttpApi:
    """The source is an HTTP API: its official base URL, which the operator may replace for every org with
    `<NAME>_API_BASE_URL` and an org's credential with `metadata.base_url` (within the egress allow-list)."""

    default_base_url: str
    kind: ClassVar[str] = "http"

    @property
    def official_host(self) -> str:
        """The host of the official API (always allowed outside the local environment)."""
        from urllib.parse import urlsplit

        return urlsplit(self.default_base_url).hostname or ""


@dataclass(frozen=True)
class WarehouseTable:
    """The source is a table in the customer's BigQuery, named by the credential's `metadata[metadata_key]`."""

    metadata_key: str
    kind: ClassVar[str] = "warehouse_table"


@dataclass(frozen=True)
class ObjectStorage:
    """The source is files in the customer's object storage (a bucket or container named by metadata)."""

    metadata_keys: tuple[str, ...]
    kind: ClassVar[str] = "object_storage"


@dataclass(frozen=True)
class EnteredRecords:
    """The source is records the org enters through this service's API (e.g. SaaS plans), kept in the control
    store (Firestore) under the org's subtree: nothing of the customer's is read, so no credential is needed."""

    collection: str  # the collection under orgs/{org}/ that holds them
    kind: ClassVar[str] = "org_records"


Source = HttpApi | WarehouseTable | ObjectStorage | EnteredRecords


@dataclass(frozen=True)
class FocusIdentity:
    """Who the provider is in cost_focus: ProviderName, PublisherName, InvoiceIssuerName, and ServiceCategory per
    ServiceName (configs/focus/service_categories.yml under ProviderName, plus `service_categories` here)."""

    provider_name: str
    publisher_name: str | None = None  # None: the provider publishes its own services
    invoice_issuer_name: str | None = None  # None: the provider invoices them itself
    service_categories: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # True when each row names its own ProviderName, PublisherName and InvoiceIssuerName (a source of many
    # vendors, e.g. SaaS plans): provider_name is then the source's name in configs/focus/service_categories.yml,
    # and its cost_focus slice is named by x_source_table instead of ProviderName.
    names_per_row: bool = False

    @property
    def publisher(self) -> str:
        return self.publisher_name or self.provider_name

    @property
    def invoice_issuer(self) -> str:
        return self.invoice_issuer_name or self.provider_name


class CredentialRejected(TerminalError):
    """A credential a run would refuse; raised at onboarding too, with a message saying what to fix."""

    def __init__(self, message: str, code: str = "CREDENTIAL_INVALID"):
        super().__init__(code, message)


def _no_checks(
    provider: Provider, secret: str, metadata: dict, settings: Settings, org_slug: str | None = None
) -> None:
    return None


@dataclass(frozen=True)
class Provider:
    """A cost source. `name` is its path segment in run URLs, its credential's provider, its Pub/Sub topic's
    suffix and its step types' prefix (`<name>.<step>`).

    `load_processors` imports the provider's step code when a run needs it (the registry of every provider stays
    cheap to import). `check_credential(provider, secret, metadata, settings, org_slug=None)` raises a
    TerminalError (CredentialRejected, or the error a run would meet) for what a run would refuse: onboarding calls
    it with the org, so an operator hears at once.
    """

    name: str
    title: str  # how people write it: "OpenAI", "Google Cloud"
    source: Source
    focus: FocusIdentity
    load_processors: Callable[[], Mapping[str, Processor]]
    check_credential: Callable[..., None] = (
        _no_checks  # (provider, secret, metadata, settings, org_slug=None)
    )
    needs_secret: bool = True  # False: nothing secret is stored (e.g. federated identity)
    # Where the credential's metadata decides (GCP: a key, or access granted to the pipeline): metadata → needs one.
    secret_needed: Callable[[dict], bool] | None = None
    # False: the provider reads nothing of the customer's (an EnteredRecords source): runs need no stored
    # credential, and onboarding refuses one.
    needs_credential: bool = True
    metadata_keys: tuple[str, ...] = ()  # the credential metadata it reads
    llm_pricing: bool = False  # its usage is priced with configs/prices/llm_prices.yml (overrides apply)
    # The days a run of [start, end] loads (e.g. a look-back for restated days); None: exactly [start, end].
    # A fanned-out run splits this window into its slices.
    load_window: Callable[[date, date], tuple[date, date]] | None = None

    def processors(self) -> Mapping[str, Processor]:
        """Every step type of the provider (imported on first use)."""
        return self.load_processors()

    def processor(self, ps_type: str) -> Processor:
        """The processor of one step type; KeyError naming it if the provider has none."""
        processors = self.processors()
        if ps_type not in processors:
            raise KeyError(f"provider {self.name} has no step type {ps_type!r}")
        return processors[ps_type]

    def validate_credential(
        self, secret: str, metadata: dict, settings: Settings, org_slug: str | None = None
    ) -> None:
        """Raise a TerminalError for a credential a run would refuse (metadata keys, secret, provider rules); the
        rules that depend on the org (whose dataset is whose) apply when `org_slug` is given."""
        if not self.needs_credential:
            raise CredentialRejected(
                f"{self.title} needs no credential (its records are entered through the API): store none"
            )
        unknown = sorted(set(metadata) - set(self.metadata_keys))
        if unknown:
            allowed = ", ".join(self.metadata_keys) or "none"
            raise CredentialRejected(
                f"metadata keys {unknown} are not read by {self.title} (it reads: {allowed})"
            )
        needs_secret = self.secret_needed(metadata) if self.secret_needed else self.needs_secret
        if needs_secret and not secret.strip():
            raise CredentialRejected(f"the {self.title} secret is empty")
        if not needs_secret and self.secret_needed and secret.strip():
            raise CredentialRejected(
                f"this {self.title} credential takes no secret (access is granted to the pipeline's own service "
                f"account, nothing secret is stored): give only --metadata, without --secret-file"
            )
        if not needs_secret and secret.strip():
            raise CredentialRejected(
                f"{self.title} takes no secret (its access is federated, nothing secret is stored): "
                f"give only --metadata, without --secret-file"
            )
        self.check_credential(self, secret.strip(), metadata, settings, org_slug=org_slug)
