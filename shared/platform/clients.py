"""Google Cloud clients, created once per process and lazily, pointed at local stand-ins when configured."""

from __future__ import annotations

import functools

from shared.platform.settings import Settings, get_settings


def _anonymous_options(endpoint: str):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials(), ClientOptions(api_endpoint=endpoint)


def make_bigquery_client(settings: Settings):
    """A BigQuery client; against the emulator when BIGQUERY_API_ENDPOINT is set."""
    from google.cloud import bigquery

    if settings.bigquery_api_endpoint:
        credentials, options = _anonymous_options(settings.bigquery_api_endpoint)
        return bigquery.Client(project=settings.project, credentials=credentials, client_options=options)
    return bigquery.Client(project=settings.project, location=settings.bigquery_location)


def make_bigquery_write_client(settings: Settings):
    """A BigQuery Storage Write API client; over an insecure channel to the stand-in when
    BIGQUERY_STORAGE_API_ENDPOINT is set."""
    from google.cloud import bigquery_storage_v1

    if settings.bigquery_storage_api_endpoint:
        import grpc
        from google.cloud.bigquery_storage_v1.services.big_query_write.transports import (
            BigQueryWriteGrpcTransport,
        )

        channel = grpc.insecure_channel(settings.bigquery_storage_api_endpoint)
        return bigquery_storage_v1.BigQueryWriteClient(transport=BigQueryWriteGrpcTransport(channel=channel))
    return bigquery_storage_v1.BigQueryWriteClient()


def make_kms_client(settings: Settings):
    """A Cloud KMS client; over an insecure channel to the local server when KMS_API_ENDPOINT is set."""
    from google.cloud import kms_v1

    if settings.kms_api_endpoint:
        import grpc
        from google.cloud.kms_v1.services.key_management_service.transports import (
            KeyManagementServiceGrpcTransport,
        )

        endpoint = settings.kms_api_endpoint
        transport = KeyManagementServiceGrpcTransport(channel=grpc.insecure_channel(endpoint))
        return kms_v1.KeyManagementServiceClient(transport=transport)
    return kms_v1.KeyManagementServiceClient()


def make_tasks_client(settings: Settings):
    """A Cloud Tasks client; over an insecure channel to the local server when CLOUD_TASKS_API_ENDPOINT is set."""
    from google.cloud import tasks_v2

    if settings.tasks_api_endpoint:
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        transport = CloudTasksGrpcTransport(channel=grpc.insecure_channel(settings.tasks_api_endpoint))
        return tasks_v2.CloudTasksClient(transport=transport)
    return tasks_v2.CloudTasksClient()


def make_publisher_client(settings: Settings):
    """A Pub/Sub publisher; the library itself honours PUBSUB_EMULATOR_HOST."""
    import os

    from google.cloud import pubsub_v1

    if settings.pubsub_emulator_host:
        os.environ.setdefault("PUBSUB_EMULATOR_HOST", settings.pubsub_emulator_host)
    return pubsub_v1.PublisherClient()


def make_subscriber_client(settings: Settings):
    """A Pub/Sub subscriber (to drain dead letters); the library itself honours PUBSUB_EMULATOR_HOST."""
    import os

    from google.cloud import pubsub_v1

    if settings.pubsub_emulator_host:
        os.environ.setdefault("PUBSUB_EMULATOR_HOST", settings.pubsub_emulator_host)
    return pubsub_v1.SubscriberClient()


def make_firestore_client(settings: Settings):
    """A Firestore client of the settings' database; against the emulator when FIRESTORE_EMULATOR_HOST is set."""
    import os

    from google.cloud import firestore

    if not settings.firestore_emulator_host:
        return firestore.Client(project=settings.project, database=settings.firestore_database)
    # The library reads FIRESTORE_EMULATOR_HOST once, while building the client: set it for that moment only,
    # so that a process talking to two stacks (tests) gets each client pointed at its own.
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = settings.firestore_emulator_host
    try:
        return firestore.Client(project=settings.project, database=settings.firestore_database)
    finally:
        if previous is None:
            del os.environ["FIRESTORE_EMULATOR_HOST"]
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous


@functools.cache
def firestore_client():
    """The process's Firestore client (the control state)."""
    return make_firestore_client(get_settings())


@functools.cache
def subscriber_client():
    """The process's Pub/Sub subscriber (created on the first dead-letter call, not at cold start)."""
    return make_subscriber_client(get_settings())


@functools.cache
def bigquery_client():
    """The process's BigQuery client."""
    return make_bigquery_client(get_settings())


@functools.cache
def kms_client():
    """The process's Cloud KMS client."""
    return make_kms_client(get_settings())


@functools.cache
def publisher_client():
    """The process's Pub/Sub publisher."""
    return make_publisher_client(get_settings())


@functools.cache
def tasks_client():
    """The process's Cloud Tasks client (created on the first scheduler call, not at cold start)."""
    return make_tasks_client(get_settings())


@functools.cache
def warehouse(unavailable_after: float | None = None):
    """The process's Warehouse adapter (`unavailable_after`: see Warehouse; None: the workers' default)."""
    from shared.warehouse.adapter import WORKER_UNAVAILABLE_AFTER_SECONDS, Warehouse

    return Warehouse(
        bigquery_client(), get_settings().project, unavailable_after or WORKER_UNAVAILABLE_AFTER_SECONDS
    )
