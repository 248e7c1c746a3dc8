"""Fixtures of the standard provider suite: per case its settings and warehouse, over the session's BigQuery stand-in
(tests/kit/warehouse_standin.py: the SQL steps and slice loads need a warehouse; nothing else of the stack starts)."""

from __future__ import annotations

import pytest

from shared.platform.settings import settings_from_env
from tests.kit.warehouse_standin import PROJECT
from tests.providers.registry import CASES


@pytest.fixture(scope="session", params=CASES, ids=lambda case: case.name)
def case(request):
    """Each registered provider's case in turn."""
    return request.param


@pytest.fixture(scope="session")
def suite_settings(case, bigquery_standin, tmp_path_factory):
    """Settings of the case's runs: the stand-in warehouse, the case's configs, and its source stand-ins (started
    for the case, on free ports)."""
    from devstack.processes import free_port

    root = tmp_path_factory.getbasetemp()
    standin_env, launched = {}, []
    try:
        for standin in case.standins:
            port = free_port()
            launched.append(standin.launch(tmp_path_factory.mktemp(f"suite-{standin.name}"), port))
            launched[-1].wait_ready()
            standin_env.update(standin.env(standin.url(port)))
        yield _settings(case, bigquery_standin, root, standin_env)
    finally:
        for process in launched:
            process.stop()


def _settings(case, bigquery_standin, root, standin_env: dict):
    return settings_from_env(
        {
            "GCP_PROJECT_ID": PROJECT,
            "ENVIRONMENT": "local",
            "KMS_KEY_NAME": f"projects/{PROJECT}/locations/global/keyRings/dps/cryptoKeys/credentials",
            "BIGQUERY_API_ENDPOINT": bigquery_standin.url,
            "BIGQUERY_STORAGE_API_ENDPOINT": bigquery_standin.grpc_address,
            "CONFIG_DIR": str(case.config_dir(root)),
            **standin_env,
        }
    )


@pytest.fixture(scope="session")
def suite_warehouse(suite_settings):
    """The Warehouse adapter over the stand-in."""
    from shared.platform.clients import make_bigquery_client, make_bigquery_write_client
    from shared.warehouse.adapter import Warehouse

    return Warehouse(
        make_bigquery_client(suite_settings),
        suite_settings.project,
        write_client=make_bigquery_write_client(suite_settings),
    )


@pytest.fixture(scope="session")
def golden_run(case, suite_settings, suite_warehouse):
    """The case's pipeline run once over its recorded source into its golden org, with what it logged: the
    golden, schema, FOCUS and secrets checks read this one run."""
    import contextlib
    import io

    from tests.providers.case import golden_slug, run_case

    logged = io.StringIO()
    with contextlib.redirect_stdout(logged):
        run = run_case(case, suite_warehouse, suite_settings, golden_slug(case))
    return run, logged.getvalue()
