"""Module fixtures: a local stack (BigQuery emulator, Pub/Sub emulator, KMS, Tasks, sandbox, functions) on free
ports, started fresh for each test module that needs one."""

from __future__ import annotations

import os

import pytest


def _forget_process_clients() -> None:
    """Drop what this process cached about a stack (settings, clients): the next module's stack is another."""
    from shared.api import app
    from shared.platform import clients, settings
    from shared.worker import entry

    for cached in (
        settings.get_settings,
        clients.subscriber_client,
        clients.bigquery_client,
        clients.kms_client,
        clients.publisher_client,
        clients.tasks_client,
        clients.warehouse,
        entry.default_deps,
        app.default_deps,
    ):
        cached.cache_clear()


# Module scope, not session: the BigQuery stand-in (DuckLake) gets slower with every commit it keeps (each small
# transaction adds files and snapshots that later reads go through), so one emulator for the whole suite made the
# late modules several times slower than the same tests on a fresh one. A start costs ~3-5 s.
@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The whole local stack, started for one test module and stopped at its end."""
    from devstack.stack import LocalStack

    local = LocalStack(data_dir=tmp_path_factory.mktemp("stack"), ports=LocalStack.free_ports())
    local.start()
    # The test process talks to the same stand-ins as the served functions, through the same settings.
    saved = dict(os.environ)
    os.environ.update(local.env())
    try:
        yield local
    finally:
        os.environ.clear()
        os.environ.update(saved)
        local.stop()
        _forget_process_clients()


@pytest.fixture(scope="module")
def settings(stack):
    return stack.settings()


@pytest.fixture(scope="module")
def warehouse(settings):
    from shared.platform.clients import make_bigquery_client
    from shared.warehouse.adapter import Warehouse

    return Warehouse(make_bigquery_client(settings), settings.project)


@pytest.fixture(scope="module")
def kms(settings):
    from shared.platform.clients import make_kms_client

    return make_kms_client(settings)


@pytest.fixture
def new_org(settings):
    """Factory: onboard a fresh org (unique slug) with an OpenAI credential; returns create_org's result."""
    from tests.kit.orgs import onboard

    def make(**options):
        return onboard(settings, **options)

    return make


@pytest.fixture
def api_only_org(new_org):
    """Factory like `new_org`, for tests of the API alone: the runs they start fail at once (a refused provider
    key) instead of pulling data through every step and loading the shared emulator under later tests."""

    from tests.kit.orgs import REFUSED_PROVIDER_KEY

    def make(**options):
        return new_org(**{"secret": REFUSED_PROVIDER_KEY, **options})

    return make
