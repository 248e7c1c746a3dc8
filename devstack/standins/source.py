"""A stand-in that a provider's source needs (an S3 or Blob Storage server): how the local stack and the provider
suite launch it, and the environment that points the functions, the CLI and the tests at it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from devstack.processes import LOOPBACK


class LaunchedStandin(Protocol):
    """A started stand-in process: wait for it to answer, stop it."""

    def wait_ready(self) -> float: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class SourceStandin:
    """One source stand-in.

    name: its port's name (moved with DPS_PORT_<NAME>) and its log file's.
    default_port: where `make up` serves it.
    launch(data_dir, port): start it without waiting (its data under data_dir/<name>, its log under data_dir/logs).
    env(url): the environment variables that point clients at it (url is http://127.0.0.1:<port>).
    stack_key: the key of its URL in .local/stack.json (e.g. "s3_endpoint").
    """

    name: str
    default_port: int
    launch: Callable[[Path, int], LaunchedStandin]
    env: Callable[[str], dict[str, str]]
    stack_key: str

    @staticmethod
    def url(port: int) -> str:
        """The stand-in's base URL on a port."""
        return f"http://{LOOPBACK}:{port}"
