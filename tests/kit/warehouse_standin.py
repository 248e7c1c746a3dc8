"""The fast tier's one BigQuery stand-in per test process (a pytest plugin, registered in tests/conftest.py): the
provider suite and the golden cases that load through a real warehouse share it, so a worker starts one, not one
per module that needs it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

# The service's own project; the GCP case's export lives in another one (suite-project), as a customer's does: a run
# refuses an export in the service's project unless it is the org's own dataset.
PROJECT = "suite-service"


@pytest.fixture(scope="session")
def bigquery_standin(tmp_path_factory):
    """The BigQuery stand-in (REST and Storage Read gRPC) on free ports, for the session."""
    from devstack.processes import free_port
    from devstack.standins.bigquery import launch_bigquery

    data_dir = tmp_path_factory.mktemp("suite-bigquery")
    rest = free_port()
    grpc = free_port(taken={rest})
    # DuckDB's extensions (~130 MB) are installed once per machine, not per session.
    duckdb_home = Path(tempfile.gettempdir()) / "dps-duckdb-home"
    emulator = launch_bigquery(data_dir, rest, grpc, PROJECT, duckdb_home=duckdb_home)
    try:
        emulator.wait_ready()
        yield emulator
    finally:
        emulator.stop()
