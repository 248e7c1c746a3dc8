"""The customer's billing export, read with the org's service account: table id, clients, pruned queries."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.platform.errors import PipelineError, TerminalError, TransientError
from shared.providers.contract import StepContext
from shared.providers.gcp import constants as gcp
from shared.providers.gcp.sql import partition_filter, source_select_list


@dataclass(frozen=True)
class ExportTable:
    """A validated, fully qualified billing export table id."""

    project: str
    dataset: str
    table: str
    detailed: bool

    @property
    def id(self) -> str:
        """project.dataset.table"""
        return f"{self.project}.{self.dataset}.{self.table}"


def parse_export_table(value: object) -> ExportTable:
    """The export table named by credential metadata; TerminalError unless it is exactly a billing export id."""
    match = gcp.EXPORT_TABLE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise TerminalError(
            "INVALID_BILLING_EXPORT_TABLE",
            f"metadata.{gcp.METADATA_KEY} must be project.dataset.gcp_billing_export_v1_XXXXXX_XXXXXX_XXXXXX "
            "(or gcp_billing_export_resource_v1_...): letters, digits, '-', '_' and two dots, nothing else.",
        )
    return ExportTable(match["project"], match["dataset"], match["table"], bool(match["kind"]))


def check_export_scope(table: ExportTable, org_slug: str | None, settings) -> None:
    """Refuse an export table in this service's own project unless it is in the org's own dataset: every org's
    dataset ({org}_{env}) and the central one live there, and an export id naming another org's dataset would read
    (and copy into this org's tables) what that org owns, with whatever reach the reading identity has."""
    if table.project != settings.project:
        return
    own = settings.org_dataset(org_slug) if org_slug else None
    if table.dataset == own:
        return
    if table.dataset.lower() == settings.central_dataset.lower():
        why = f"dataset {table.dataset!r} is this service's central dataset"
    else:
        why = f"dataset {table.dataset!r} is in this service's own project and is not the org's own ({own})"
    raise TerminalError(
        "INVALID_BILLING_EXPORT_TABLE",
        f"metadata.{gcp.METADATA_KEY} refused: {why}. Name the export in the org's own billing project "
        f"(project {settings.project!r} holds every org's data).",
    )


def access_mode(metadata: dict) -> str:
    """ "key" (the default) or "granted"; TerminalError naming the choices for anything else."""
    mode = metadata.get(gcp.ACCESS_KEY, "key")
    if mode not in gcp.ACCESS_MODES:
        raise TerminalError(
            "CREDENTIAL_INVALID",
            f"metadata.{gcp.ACCESS_KEY} must be one of {', '.join(gcp.ACCESS_MODES)} "
            f"(granted: the org granted the pipeline's service account read access; no key is stored)",
        )
    return mode


def grant_message(table: ExportTable, settings) -> str:
    """What a granted-mode org must grant, exactly."""
    return (
        f"the pipeline's service account {settings.export_reader} cannot read {table.id}: grant it "
        f"{gcp.READER_ROLE} (BigQuery Data Viewer) on dataset {table.project}:{table.dataset} "
        f"(or on an authorised view of the export in that dataset)"
    )


def reader_client(settings):
    """A BigQuery client acting as the gcp function's service account: the emulator's locally; elsewhere the
    caller's identity impersonating that account (the api function may: Terraform grants it Token Creator)."""
    from shared.platform.clients import make_bigquery_client

    if settings.bigquery_api_endpoint:
        return make_bigquery_client(settings)
    import google.auth
    from google.auth import impersonated_credentials
    from google.cloud import bigquery

    caller, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    credentials = impersonated_credentials.Credentials(
        source_credentials=caller,
        target_principal=settings.export_reader,
        target_scopes=list(gcp.SOURCE_SCOPES),
        lifetime=300,
    )
    return bigquery.Client(
        project=settings.project, credentials=credentials, location=settings.bigquery_location
    )


def check_grant(table: ExportTable, settings, client=None) -> None:
    """Onboarding's check of a granted org: a dry run of a pruned export query as the pipeline's own account.
    CredentialRejected naming the missing role and dataset when BigQuery refuses it."""
    from google.api_core import exceptions
    from google.cloud import bigquery

    from shared.providers.contract import CredentialRejected

    client = client or reader_client(settings)
    sql = (
        f"SELECT export_time FROM `{table.id}` "
        "WHERE _PARTITIONTIME >= TIMESTAMP(DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY))"
    )
    try:
        client.query(sql, job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)).result()
    except exceptions.Forbidden as exc:
        if "jobs.create" in str(exc):  # our own project's job permission: a deployment problem, not the org's
            raise CredentialRejected(
                f"{settings.export_reader} may not run query jobs in project {settings.project}: grant it "
                f"roles/bigquery.jobUser there (the deployment's Terraform does)",
                code="PROVIDER_PERMISSION_DENIED",
            ) from None
        raise CredentialRejected(grant_message(table, settings), code="PROVIDER_PERMISSION_DENIED") from None
    except exceptions.NotFound:
        raise CredentialRejected(
            f"{table.id} does not exist, or {settings.export_reader} may not see it: check the name, and grant "
            f"{gcp.READER_ROLE} on dataset {table.project}:{table.dataset}",
            code="BILLING_EXPORT_NOT_FOUND",
        ) from None
    except exceptions.BadRequest as exc:
        raise CredentialRejected(
            f"BigQuery refused a query of {table.id}: {exc.message}", code="BILLING_EXPORT_QUERY_FAILED"
        ) from None


def service_account_info(secret: str) -> dict:
    """The service-account key the credential holds; TerminalError (never echoing it) if it is not one."""
    try:
        info = json.loads(secret)
    except (TypeError, ValueError):
        info = None
    needed = ("client_email", "private_key", "project_id")
    if (
        not isinstance(info, dict)
        or info.get("type") != "service_account"
        or not all(isinstance(info.get(key), str) and info[key] for key in needed)
    ):
        raise TerminalError(
            "PROVIDER_AUTH_FAILED",
            "The stored GCP credential is not a service-account key (JSON, type service_account).",
        )
    return info


@dataclass
class Source:
    """Clients acting as the org's service account, and the export table they read."""

    client: Any  # google.cloud.bigquery.Client: jobs run (and bill) in the service account's project
    read_client: Any  # BigQueryReadClient (Storage Read API: Arrow over gRPC) or None to page over REST
    table: ExportTable


def open_source(ctx: StepContext) -> Source:
    """Clients for the org's export: the emulator locally, the service account's identity in GCP."""
    from google.cloud import bigquery

    table = parse_export_table(ctx.credential.metadata.get(gcp.METADATA_KEY))
    check_export_scope(table, ctx.org_slug, ctx.settings)  # again at run time: metadata may predate the rule
    info = service_account_info(ctx.credential.secret)
    if ctx.source_clients is not None:  # injected (tests): (client, read_client)
        return Source(*ctx.source_clients, table)
    if ctx.settings.bigquery_api_endpoint:
        from shared.platform.clients import make_bigquery_client

        return Source(
            make_bigquery_client(ctx.settings),
            _local_read_client(ctx.settings.bigquery_storage_api_endpoint),
            table,
        )
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(info, scopes=list(gcp.SOURCE_SCOPES))
    client = bigquery.Client(project=info["project_id"], credentials=credentials)
    from google.cloud import bigquery_storage_v1

    # Rows come as Arrow over the Storage Read API: paging a month of export rows over REST is far slower.
    read_client = bigquery_storage_v1.BigQueryReadClient(credentials=credentials)
    return Source(client, read_client, table)


def _local_read_client(endpoint: str | None):
    """A Storage Read client for the emulator's gRPC port (the local stack sets it), or None to page over REST."""
    if not endpoint:
        return None
    import grpc
    from google.cloud import bigquery_storage_v1
    from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

    # The emulator answers a whole result in one message; gRPC's default 4 MiB receive limit would refuse it.
    channel = grpc.insecure_channel(endpoint, options=[("grpc.max_receive_message_length", -1)])
    return bigquery_storage_v1.BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))


@contextlib.contextmanager
def source_errors() -> Iterator[None]:
    """Translate the source's errors into what the run must do: retry (transient) or fail (terminal)."""
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions

    try:
        yield
    except PipelineError:
        raise
    except auth_exceptions.RefreshError as exc:
        raise TerminalError("PROVIDER_AUTH_FAILED", "Google refused the service-account key.") from exc
    except exceptions.TooManyRequests as exc:
        raise TransientError("PROVIDER_RATE_LIMITED", "BigQuery rate-limited the export read (429).") from exc
    except (exceptions.DeadlineExceeded, exceptions.GatewayTimeout) as exc:
        raise TransientError(
            "PROVIDER_TIMEOUT", f"BigQuery timed out reading the export ({exc.code})."
        ) from exc
    except (
        exceptions.ServiceUnavailable,
        exceptions.InternalServerError,
        exceptions.BadGateway,
    ) as exc:
        raise TransientError(
            "PROVIDER_UNAVAILABLE", f"BigQuery answered {exc.code} reading the export."
        ) from exc
    except exceptions.Forbidden as exc:
        if "rateLimitExceeded" in str(exc) or "quotaExceeded" in str(exc):
            raise TransientError("PROVIDER_RATE_LIMITED", "BigQuery rate-limited the export read.") from exc
        raise TerminalError(
            "PROVIDER_PERMISSION_DENIED",
            "The service account may not read the billing export (or run query jobs).",
        ) from exc
    except exceptions.Unauthorized as exc:
        raise TerminalError("PROVIDER_AUTH_FAILED", "Google refused the service-account key.") from exc
    except exceptions.NotFound as exc:
        raise TerminalError("BILLING_EXPORT_NOT_FOUND", "The billing export table does not exist.") from exc
    except exceptions.RetryError as exc:  # the client's own retries of 5xx and dropped connections ran out
        raise TransientError("PROVIDER_UNAVAILABLE", "BigQuery did not answer the export read.") from exc
    except OSError as exc:  # requests' timeouts and connection errors (reset, truncated body) are OSErrors
        timeout = "Timeout" in type(exc).__name__
        raise TransientError(
            "PROVIDER_TIMEOUT" if timeout else "PROVIDER_UNREACHABLE",
            f"The export read failed in transit ({type(exc).__name__}).",
        ) from exc
    except exceptions.BadRequest as exc:
        if "bytesBilledLimitExceeded" in str(exc) or "bytes billed" in str(exc).lower():
            raise TerminalError(
                "BYTES_BILLED_LIMIT", "The export query would bill more than the limit."
            ) from exc
        raise TerminalError(
            "BILLING_EXPORT_QUERY_FAILED", f"The export query was refused: {exc.message}"
        ) from exc


def _job_config(params: dict):
    from google.cloud import bigquery

    from shared.warehouse.params import query_parameters

    return bigquery.QueryJobConfig(
        query_parameters=query_parameters(params),
        maximum_bytes_billed=gcp.MAX_BYTES_BILLED,
        use_query_cache=False,  # the export changes under us; a cached answer would hide late rows
    )


def partition_stats(source: Source, first: date, last: date) -> dict[date, tuple[datetime | None, int]]:
    """Per export partition in [first, last]: (max(export_time), rows). Prunes partitions; reads export_time only."""
    sql = f"""
    SELECT DATE(_PARTITIONTIME) AS partition_date, MAX(export_time) AS max_export_time, COUNT(*) AS row_count
    FROM `{source.table.id}`
    WHERE _PARTITIONTIME >= TIMESTAMP(@first) AND _PARTITIONTIME < TIMESTAMP(DATE_ADD(@last, INTERVAL 1 DAY))
    GROUP BY partition_date
    """
    with source_errors():
        rows = source.client.query_and_wait(sql, job_config=_job_config({"first": first, "last": last}))
        return {row["partition_date"]: (row["max_export_time"], row["row_count"]) for row in rows}


def read_rows(source: Source, partitions: list[date]) -> Iterator:
    """Arrow record batches of the export's rows in exactly `partitions` (Storage Read API when available)."""
    with source_errors():
        present = {field.name for field in source.client.get_table(source.table.id).schema}
        where, params = partition_filter(partitions)
        sql = f"SELECT {source_select_list(present)} FROM `{source.table.id}` WHERE {where}"
        job = source.client.query(sql, job_config=_job_config(params))
        result = job.result()
        yield from result.to_arrow_iterable(bqstorage_client=source.read_client)
