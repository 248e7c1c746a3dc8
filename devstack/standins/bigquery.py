"""local-bigquery (BigQuery over DuckDB) as a subprocess, with DuckDB's extensions kept in the data dir."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from devstack.processes import (
    LOOPBACK,
    ManagedProcess,
    StartupError,
    http_status,
    start_process,
    wait_until,
)

EXTENSION_PACKAGES = ("duckdb_extension_icu", "duckdb_extension_ducklake", "duckdb_extension_spatial")
READY_TIMEOUT_SECONDS = 60.0


def _marker(duckdb_home: Path) -> Path:
    from importlib.metadata import version

    return duckdb_home / ".duckdb" / f"dps-extensions-installed-{version('duckdb')}"


def _packaged_extension_files() -> list[Path]:
    import importlib

    files = []
    for package in EXTENSION_PACKAGES:
        try:
            root = Path(importlib.import_module(package).__path__[0])
        except ImportError as exc:
            raise StartupError(f"{package} is not installed: run `make setup`") from exc
        found = sorted(root.glob("extensions/*/*.duckdb_extension"))
        if not found:
            raise StartupError(f"{package} holds no *.duckdb_extension file; reinstall it")
        files.extend(found)
    return files


def install_extensions(duckdb_home: Path) -> bool:
    """Install the packaged DuckDB extensions under duckdb_home/.duckdb once; True if it installed now."""
    marker = _marker(duckdb_home)
    if marker.exists():
        return False
    import duckdb

    # local-bigquery's DuckDB looks in $HOME/.duckdb/extensions; its subprocess gets HOME=duckdb_home.
    extension_dir = duckdb_home / ".duckdb" / "extensions"
    extension_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(config={"extension_directory": str(extension_dir)}) as con:
        for path in _packaged_extension_files():
            con.install_extension(str(path), force_install=True)
    marker.touch()
    return True


class BigQueryEmulator:
    """A running local-bigquery: REST on `url`, Storage API gRPC on `grpc_address`."""

    def __init__(self, process: ManagedProcess, port: int, grpc_port: int, project: str):
        self.process = process
        self.port = port
        self.grpc_port = grpc_port
        self.project = project

    @property
    def url(self) -> str:
        """The REST endpoint (BIGQUERY_API_ENDPOINT)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def grpc_address(self) -> str:
        """host:port of the Storage Read/Write API."""
        return f"{LOOPBACK}:{self.grpc_port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Wait until listing datasets answers 200 (this also opens its DuckDB); returns seconds waited."""
        # 200 only: a 400 here means DuckDB could not open (e.g. a missing extension), not "ready".
        probe = f"{self.url}/bigquery/v2/projects/{self.project}/datasets"
        return wait_until(self.process, lambda: http_status(probe) == 200, f"GET {probe} answered", timeout)

    def stop(self) -> None:
        """Stop the emulator (idempotent); its data stays in the data dir."""
        self.process.stop()


def launch_bigquery(
    data_dir: Path,
    port: int,
    grpc_port: int,
    project: str,
    duckdb_home: Path | None = None,
    log_path: Path | None = None,
) -> BigQueryEmulator:
    """Start local-bigquery on loopback without waiting; call `wait_ready()` on the result."""
    data_dir = Path(data_dir)
    duckdb_home = Path(duckdb_home or data_dir / "duckdb-home")
    install_extensions(duckdb_home)
    if importlib.util.find_spec("local_bigquery") is None:
        raise StartupError("local-bigquery is not installed: run `make setup` (pip install -e '.[dev]')")
    # The package's server, through a launcher that makes its table lookups scale with many datasets.
    argv = [
        sys.executable,
        "-m",
        "devstack.standins.bigquery_serve",
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--grpc-port",
        str(grpc_port),
        "--data-dir",
        str(data_dir / "bigquery"),
    ]
    # HOME points DuckDB's home directory (and so its extension directory) inside the data dir.
    env = {**os.environ, "HOME": str(duckdb_home), "PYTHONUNBUFFERED": "1"}
    log = log_path or data_dir / "logs" / "bigquery.log"
    return BigQueryEmulator(start_process("local-bigquery", argv, log, env), port, grpc_port, project)
