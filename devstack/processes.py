"""Child processes of the local stack: start in their own group with a log file, wait for readiness, stop."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
STOP_GRACE_SECONDS = 5.0


class StartupError(RuntimeError):
    """A stand-in could not be started; the message says why and what to do."""


@dataclass
class ManagedProcess:
    """A child process in its own process group, logging to `log_path`."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    stopped: bool = False

    @property
    def pid(self) -> int:
        """The process id (also its process group id)."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of the process's log, for error messages."""
        return log_tail(self.log_path, lines)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop the whole group: SIGTERM, wait up to `grace` seconds, then SIGKILL (idempotent)."""
        stop_process(self, grace)


def log_tail(path: Path, lines: int = 25) -> str:
    """The last `lines` lines of a log file ('' if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port(host: str = LOOPBACK, taken: set[int] | frozenset[int] = frozenset()) -> int:
    """A TCP port free right now, below the ephemeral range and not in `taken`.

    Not one the OS would pick: a port from the ephemeral range can be taken by any outgoing connection between
    this check and the server's bind (seen: a stand-in answering another's readiness probe).
    """
    import random

    low = _ephemeral_range()[0]
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        if port not in taken and port_is_free(port, host):
            return port
    raise StartupError(f"no free port found below {low}")


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True if nothing listens on host:port (binding tells; SO_REUSEADDR ignores TIME_WAIT leftovers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ensure_ports_free(ports: dict[str, int], hint: Callable[[str], str], host: str = LOOPBACK) -> None:
    """Raise StartupError naming the first busy port; `hint(name)` says how to choose another one."""
    for name, port in ports.items():
        if port and not port_is_free(port, host):
            raise StartupError(
                f"port {port} ({name}) is already in use by another process: stop it or {hint(name)}"
            )


def _pdeathsig_prefix() -> list[str]:
    # If the supervisor is killed outright (kill -9, a crashed test run) its children must not linger
    # holding ports; util-linux's setpriv asks the kernel to SIGTERM them when their parent dies.
    if sys.platform.startswith("linux") and (setpriv := shutil.which("setpriv")):
        return [setpriv, "--pdeathsig", "TERM", "--"]
    return []


def start_process(name: str, argv: list[str], log_path: Path, env: dict[str, str], cwd: Path | None = None):
    """Start `argv` in a new session (own process group), stdout and stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            popen = subprocess.Popen(
                _pdeathsig_prefix() + argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,  # Ctrl-C in the terminal reaches only the supervisor, which stops us
            )
        except FileNotFoundError as exc:
            raise StartupError(f"cannot start {name}: {argv[0]} not found") from exc
    return ManagedProcess(name, popen, log_path)


def wait_until(process: ManagedProcess, ready: Callable[[], bool], what: str, timeout: float) -> float:
    """Poll `ready()`; returns seconds waited. Fails fast, with the log tail, if the process dies."""
    began = time.monotonic()
    while True:
        if ready():
            return time.monotonic() - began
        if not process.alive():
            raise StartupError(
                f"{process.name} exited with code {process.popen.returncode} before {what}; "
                f"last lines of {process.log_path}:\n{process.log_tail()}"
            )
        if time.monotonic() - began > timeout:
            raise StartupError(
                f"{process.name} was not ready ({what}) within {timeout:.0f} s; "
                f"last lines of {process.log_path}:\n{process.log_tail()}"
            )
        time.sleep(0.05)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status of a GET to `url`, or None if nothing answered."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def stop_process(process: ManagedProcess, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the process group, wait up to `grace` seconds, SIGKILL what is left; safe to call twice."""
    if process.stopped:
        return  # never signal a group id again later: the OS may have reused it
    process.stopped = True
    popen = process.popen
    if popen.poll() is None:
        _signal_group(popen.pid, signal.SIGTERM)
        try:
            popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # The leader may be gone while its children (e.g. gunicorn workers) are still in the group.
    _signal_group(popen.pid, signal.SIGKILL)
    try:
        popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
