"""Azurite (Microsoft's Blob Storage emulator, installed from the npm registry into .tools/azurite by `make setup`):
the local Blob Storage the Azure cost exports are read from, with the official azure-storage-blob client."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from devstack.processes import LOOPBACK, ManagedProcess, StartupError, http_status, start_process, wait_until
from devstack.standins.source import SourceStandin
from shared.platform.settings import REPO_ROOT

READY_TIMEOUT_SECONDS = 30.0
AZURITE_BIN = REPO_ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's well-known development account (documented publicly with its key: not a secret).
DEV_ACCOUNT = "devstoreaccount1"


class Azurite:
    """A running azurite-blob; clients reach the dev account at `url`/devstoreaccount1."""

    def __init__(self, process: ManagedProcess, port: int):
        self.process, self.port = process, port

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Wait until Azurite answers HTTP (any status: an anonymous request is refused, but answered)."""
        probe = f"{self.url}/{DEV_ACCOUNT}?comp=list"
        return wait_until(
            self.process, lambda: http_status(probe) is not None, f"GET {probe} answered", timeout
        )

    def stop(self) -> None:
        """Stop Azurite (idempotent); its blobs stay under its data folder. Short grace: it holds nothing to
        flush that a restart needs (its metadata is written as it goes)."""
        self.process.stop(grace=1.0)


EXTENT_MEMORY_LIMIT_MB = 4096  # blob bytes it may hold: a 5M-row month of gzip CSV is a few hundred MB


def find_azurite() -> Path:
    """azurite-blob: $AZURITE_BLOB_BIN, else the one `make setup` installed."""
    configured = os.environ.get("AZURITE_BLOB_BIN")
    path = Path(configured) if configured else AZURITE_BIN
    if not path.is_file():
        raise StartupError(
            f"Azurite is not installed at {path}: run `make setup` (it installs azurite with npm)"
        )
    if not shutil.which("node"):
        raise StartupError("node is not on PATH; Azurite needs Node.js 18+")
    return path


def launch_azurite(data_dir: Path, port: int) -> Azurite:
    """Start azurite-blob on loopback without waiting (blobs in memory, log under data_dir/logs).

    In memory, as the S3 stand-in: the demo's export is written again whenever the demo org is onboarded, and a
    stand-in persisting to disk spends CPU on it every few seconds even when idle (measured: 3% of a core against
    0), which every test stack pays while it runs."""
    argv = [
        str(find_azurite()),
        "--blobHost",
        LOOPBACK,
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        *("--extentMemoryLimit", str(EXTENT_MEMORY_LIMIT_MB)),
        "--skipApiVersionCheck",  # the Python client may speak a newer service version than this Azurite knows
        "--loose",
        "--silent",
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith("AZURE_")}
    process = start_process("azurite", argv, data_dir / "logs" / "azurite.log", env)
    return Azurite(process, port)


AZURITE_STANDIN = SourceStandin(
    name="azure_blob",
    default_port=10000,
    launch=launch_azurite,
    env=lambda url: {"AZURE_STORAGE_ENDPOINT": url},
    stack_key="azure_blob_endpoint",
)
