"""The local S3 (and STS) of AWS exports: moto's server mode, a maintained S3 API server that boto3 talks to
exactly as to AWS. Its objects live in memory: the demo seeds the org's export after the stack starts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from devstack.processes import LOOPBACK, ManagedProcess, http_status, start_process, wait_until
from devstack.standins.source import SourceStandin

READY_TIMEOUT_SECONDS = 30.0


class MotoServer:
    """A running moto server on loopback."""

    def __init__(self, process: ManagedProcess, port: int):
        self.process, self.port = process, port

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://{LOOPBACK}:{self.port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Wait until moto answers its own API (200); returns seconds waited."""
        probe = f"{self.url}/moto-api/data.json"
        return wait_until(self.process, lambda: http_status(probe) == 200, f"GET {probe} answered", timeout)

    def stop(self) -> None:
        """Stop the server (idempotent); its buckets live in memory and go with it."""
        self.process.stop()


def launch_s3(data_dir: Path, port: int) -> MotoServer:
    """Start moto's server (module of this venv's Python) on loopback without waiting."""
    argv = [sys.executable, "-m", "moto.server", "--host", LOOPBACK, "--port", str(port)]
    log = Path(data_dir) / "logs" / "s3.log"
    # moto signs nothing and checks no keys unless asked: the local credentials are accepted as they are.
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    return MotoServer(start_process("s3", argv, log, env), port)


S3_STANDIN = SourceStandin(
    name="s3",
    default_port=9014,
    launch=launch_s3,
    env=lambda url: {"AWS_STORAGE_ENDPOINT": url},
    stack_key="s3_endpoint",
)
