"""The local stack supervisor: KMS, Cloud Tasks, BigQuery, Pub/Sub, Firestore, the provider sandbox and the
functions."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from devstack import processes
from devstack.processes import LOOPBACK
from devstack.providers import LOCAL_PROVIDERS
from shared.platform.settings import DEFAULT_CONFIG_DIR, REPO_ROOT, Settings, settings_from_env

# Port names: "api" and each provider's function (its local half names the port); the rest are stand-ins.
# 0 picks a free port.
DEFAULT_PORTS = {
    "api": 8001,
    "notifier": 8020,  # delivers cost-alerts to the orgs' webhooks
    **{name: local.function_port for name, local in LOCAL_PROVIDERS.items()},
    "bigquery": 9050,
    "bigquery_grpc": 9060,
    "pubsub": 8085,
    "firestore": 8086,
    "kms": 9011,
    "sandbox": 9012,
    "tasks": 9013,
    # Each provider's source stand-ins (an object store), by their own names.
    **{
        standin.name: standin.default_port for local in LOCAL_PROVIDERS.values() for standin in local.standins
    },
}
FUNCTIONS_DIR = REPO_ROOT / "functions"
READY_TIMEOUT_SECONDS = 60.0
TASKS_QUEUE_ID = "scheduled-runs"


def default_ports(environ: dict[str, str] | None = None) -> dict[str, int]:
    """DEFAULT_PORTS, each overridable with DPS_PORT_<NAME> (e.g. DPS_PORT_API=18001)."""
    environ = os.environ if environ is None else environ
    return {name: int(environ.get(f"DPS_PORT_{name.upper()}", port)) for name, port in DEFAULT_PORTS.items()}


def _write_private(path: Path, payload: dict) -> None:
    """Write JSON readable by the owner only, atomically (a crash never leaves half a secrets file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2, default=str)
    os.replace(tmp, path)


class LocalStack:
    """Starts and stops every local stand-in and function; one instance per data dir."""

    def __init__(
        self,
        data_dir: Path,
        ports: dict[str, int] | None = None,
        project: str = "local-project",
        start_functions: bool = True,
        duckdb_home: Path | None = None,
        echo: Callable[[str], None] | None = print,
    ):
        self.data_dir = Path(data_dir).resolve()
        self.project = project
        self.start_functions = start_functions
        # DuckDB extensions (~130 MB) go here; tests may share one directory across temporary stacks.
        self.duckdb_home = Path(duckdb_home) if duckdb_home else self.data_dir / "duckdb-home"
        wanted = {**default_ports(), **(ports or {})}
        self.ports = {name: port for name, port in wanted.items() if port}
        for name in [name for name, port in wanted.items() if not port]:
            self.ports[name] = processes.free_port(taken=set(self.ports.values()))
        self.kms_key_name = f"projects/{project}/locations/global/keyRings/dps/cryptoKeys/credentials"
        self.timings: dict[str, float] = {}
        self.startup_seconds: float | None = None
        self.started_at: datetime | None = None
        self.demo_org: dict | None = None
        self._echo = echo or (lambda message: None)  # dps up prints progress; tests may pass None
        self._secrets: dict | None = None
        self._stoppers: list[tuple[str, Callable[[], None]]] = []
        self._firestore = None  # the Firestore emulator, once launched

    @staticmethod
    def free_ports() -> dict[str, int]:
        """Every port as 0, i.e. "pick a free one": what tests pass to run beside a developer's stack."""
        return dict.fromkeys(DEFAULT_PORTS, 0)

    @property
    def secrets(self) -> dict:
        """Root key, pepper, the demo org's keys and the sandbox keys, generated once and kept in secrets.json
        (0600)."""
        if self._secrets is None:
            path = self.data_dir / "secrets.json"
            loaded = json.loads(path.read_text()) if path.exists() else {}
            generated = {name: secrets.token_urlsafe(32) for name in ("root_key", "api_key_pepper")}
            generated = {name: value for name, value in generated.items() if not loaded.get(name)}
            self._secrets = {"demo_api_keys": {}, "demo_credentials": {}, **loaded, **generated}
            if generated:
                self.save_secrets()
        return self._secrets

    def secret(self, name: str, prefix: str = "") -> str:
        """A named secret of this stack (e.g. a sandbox key), generated once with `prefix` and kept."""
        if not self.secrets.get(name):
            self.secrets[name] = prefix + secrets.token_urlsafe(32)
            self.save_secrets()
        return self.secrets[name]

    def save_secrets(self) -> None:
        """Write secrets.json (owner-only)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _write_private(self.data_dir / "secrets.json", self.secrets)

    def provider_functions(self) -> list[str]:
        """The providers whose CloudEvent function exists in functions/ (each gets a topic and a push sub)."""
        return [name for name in LOCAL_PROVIDERS if (FUNCTIONS_DIR / name / "main.py").exists()]

    @staticmethod
    def source_standins() -> list:
        """Every provider's source stand-ins (SourceStandin), in provider order."""
        return [standin for local in LOCAL_PROVIDERS.values() for standin in local.standins]

    def url(self, name: str) -> str:
        """http://127.0.0.1:<port> of a named port."""
        return f"http://{LOOPBACK}:{self.ports[name]}"

    @property
    def api_url(self) -> str:
        """Base URL of the api function."""
        return self.url("api")

    @property
    def bigquery_url(self) -> str:
        """REST endpoint of the BigQuery emulator."""
        return self.url("bigquery")

    @property
    def sandbox_url(self) -> str:
        """Base URL of the provider sandbox (what each HTTP provider's <NAME>_API_BASE_URL points at)."""
        return self.url("sandbox")

    def env(self) -> dict[str, str]:
        """The environment variables the functions and the CLI need to reach this stack."""
        return {
            "GCP_PROJECT_ID": self.project,
            "ENVIRONMENT": "local",
            "CA_ROOT_API_KEY": self.secrets["root_key"],
            "API_KEY_PEPPER": self.secrets["api_key_pepper"],
            "KMS_KEY_NAME": self.kms_key_name,
            "KMS_API_ENDPOINT": f"{LOOPBACK}:{self.ports['kms']}",
            "BIGQUERY_API_ENDPOINT": self.bigquery_url,
            # The emulator's Storage Read API (Arrow over gRPC): the GCP pipeline reads export rows through it.
            "BIGQUERY_STORAGE_API_ENDPOINT": f"{LOOPBACK}:{self.ports['bigquery_grpc']}",
            "PUBSUB_EMULATOR_HOST": f"{LOOPBACK}:{self.ports['pubsub']}",
            # Google's Firestore client reads it itself (insecure channel, no credentials), as Pub/Sub's does.
            "FIRESTORE_EMULATOR_HOST": f"{LOOPBACK}:{self.ports['firestore']}",
            **{
                f"{name.upper()}_API_BASE_URL": self.sandbox_url
                for name, local in LOCAL_PROVIDERS.items()
                if local.sandbox is not None
            },
            "CONFIG_DIR": str(DEFAULT_CONFIG_DIR),
            "PROVIDER_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CLOUD_TASKS_API_ENDPOINT": f"{LOOPBACK}:{self.ports['tasks']}",
            "CLOUD_TASKS_QUEUE": self.tasks_queue,
            "SCHEDULER_TARGET_URL": self.api_url,
            **{
                name: value
                for standin in self.source_standins()
                for name, value in standin.env(self.url(standin.name)).items()
            },
        }

    @property
    def tasks_queue(self) -> str:
        """The local Cloud Tasks queue of scheduled runs."""
        return f"projects/{self.project}/locations/local/queues/{TASKS_QUEUE_ID}"

    def settings(self) -> Settings:
        """Settings of this stack, as the functions see them."""
        return settings_from_env(self.env())

    def start(self) -> LocalStack:
        """Start everything (idempotent on the same data dir; data persists); prints the seconds it took."""
        from shared.tenancy import onboarding

        if self._stoppers:
            return self
        began, self.started_at = time.monotonic(), datetime.now(UTC)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        functions = (["api", "notifier", *self.provider_functions()]) if self.start_functions else []
        standins = [standin.name for standin in self.source_standins()]
        used = [
            "kms",
            "tasks",
            "bigquery",
            "bigquery_grpc",
            "pubsub",
            "firestore",
            "sandbox",
            *standins,
            *functions,
        ]
        hint = lambda name: f"set DPS_PORT_{name.upper()} to a free port"
        processes.ensure_ports_free({name: self.ports[name] for name in used}, hint)
        try:
            # Nothing waits for anything it does not need: the functions touch BigQuery, KMS and Pub/Sub only
            # per request, so they boot alongside the emulators; all readiness waits run in parallel.
            self._timed("kms", self._start_kms)
            self._timed("tasks", self._start_tasks)
            waits = self._launch_emulators()
            self._timed("sandbox", self._start_sandbox)
            self._wait_all(waits | self._launch_functions(functions))
            self._timed("bootstrap", lambda: onboarding.bootstrap(self.settings()))
            self._timed("topology", self._ensure_topology)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = round(time.monotonic() - began, 2)
        parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.timings.items())
        self._echo(f"local stack ready in {self.startup_seconds:.1f} s ({parts}); logs: {self.data_dir}/logs")
        return self

    def _timed(self, name: str, step: Callable[[], object]) -> None:
        began = time.monotonic()
        step()
        self.timings[name] = round(time.monotonic() - began, 2)

    def _start_kms(self) -> None:
        from devstack.standins.kms import start_kms_server

        server, _ = start_kms_server(LOOPBACK, self.ports["kms"], self.data_dir / "kms")
        self._stoppers.append(("kms", lambda: server.stop(grace=1).wait()))

    def _start_tasks(self) -> None:
        from devstack.standins.tasks import create_local_queue, start_tasks_server

        log_path = self.data_dir / "logs" / "tasks.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(log_path, "a", buffering=1)  # noqa: SIM115 - closed by the stopper below

        def log(message: str) -> None:
            handle.write(f"{datetime.now(UTC).isoformat()} {message}\n")

        _, _, stop = start_tasks_server(LOOPBACK, self.ports["tasks"], log=log)
        self._stoppers.append(("tasks", lambda: (stop(), handle.close())))
        create_local_queue(self.settings(), self.tasks_queue)

    def _start_sandbox(self) -> None:
        from devstack.standins.sandbox import start_sandbox

        # Each provider's sandbox accepts any key shaped like its own (orgs onboarded by tests store their own);
        # others get a 401.
        routes = [local.sandbox for local in LOCAL_PROVIDERS.values() if local.sandbox is not None]
        server, _ = start_sandbox(LOOPBACK, self.ports["sandbox"], routes)
        self._stoppers.append(("sandbox", server.shutdown))

    def _launch_emulators(self) -> dict[str, tuple[float, Callable[[], float]]]:
        from devstack.standins.firestore import launch_firestore
        from devstack.standins.pubsub import launch_pubsub

        launched = time.monotonic()
        pubsub = launch_pubsub(self.data_dir, self.ports["pubsub"])  # first: it needs no set-up
        self._stoppers.append(("pubsub", pubsub.stop))
        self._firestore = launch_firestore(self.data_dir, self.ports["firestore"], self.project)
        self._stoppers.append(("firestore", self._firestore.stop))
        bigquery = self._launch_bigquery()
        waits = {
            "pubsub": (launched, pubsub.wait_ready),
            "firestore": (launched, self._firestore.wait_ready),
            "bigquery": (launched, bigquery.wait_ready),
        }
        for standin in self.source_standins():
            process = standin.launch(self.data_dir, self.ports[standin.name])
            self._stoppers.append((standin.name, process.stop))
            waits[standin.name] = (time.monotonic(), process.wait_ready)
        return waits

    def _launch_bigquery(self):
        from devstack.standins.bigquery import launch_bigquery

        port, grpc_port = self.ports["bigquery"], self.ports["bigquery_grpc"]
        bigquery = launch_bigquery(self.data_dir, port, grpc_port, self.project, duckdb_home=self.duckdb_home)
        self._stoppers.append(("bigquery", bigquery.stop))
        return bigquery

    def stop_bigquery(self) -> None:
        """Stop only the BigQuery emulator (its data stays): a warehouse outage, for the fault tests."""
        for entry in [entry for entry in self._stoppers if entry[0] == "bigquery"]:
            self._stoppers.remove(entry)
            entry[1]()

    def start_bigquery(self) -> float:
        """Start the BigQuery emulator again on the same ports and data; returns the seconds until it answered."""
        return self._launch_bigquery().wait_ready()

    def reset_bigquery(self) -> float:
        """An empty warehouse on the same ports: stop the BigQuery emulator, discard its data, start it again with
        the central tables bootstrapped (a copy of the first reset's files); everything else keeps running. Returns
        the seconds it took."""
        import shutil

        from shared.tenancy import onboarding

        began = time.monotonic()
        data, bootstrapped = self.data_dir / "bigquery", self.data_dir / "bigquery-bootstrapped"
        self.stop_bigquery()
        shutil.rmtree(data, ignore_errors=True)
        if bootstrapped.is_dir():
            # The first reset kept the bootstrapped warehouse's files: copying them back (the same paths) costs
            # far less than creating the central tables again.
            shutil.copytree(bootstrapped, data)
            self.start_bigquery()
        else:
            self.start_bigquery()
            onboarding.bootstrap(self.settings())
            self.stop_bigquery()  # stopped, its files are whole: keep them for the next resets
            shutil.copytree(data, bootstrapped)
            self.start_bigquery()
        return time.monotonic() - began

    def reset_control_state(self) -> None:
        """Delete every Firestore document (quota counters, runs in flight, markers): what an empty warehouse
        needs beside it, so no run or counter refers to data that is gone."""
        self._firestore.clear()

    def _launch_functions(self, names: list[str]) -> dict[str, tuple[float, Callable[[], float]]]:
        executable = Path(sys.executable).parent / "functions-framework"
        env = {**os.environ, **self.env(), "PYTHONUNBUFFERED": "1"}
        waits = {}
        for name in names:
            signature = "http" if name == "api" else "cloudevent"
            argv = [
                str(executable),
                "--target",
                name,
                "--source",
                str(FUNCTIONS_DIR / name / "main.py"),
                "--signature-type",
                signature,
                "--host",
                LOOPBACK,
                "--port",
                str(self.ports[name]),
            ]
            log = self.data_dir / "logs" / f"{name}.log"
            process = processes.start_process(f"function {name}", argv, log, env, REPO_ROOT)
            self._stoppers.append((name, process.stop))
            # Any HTTP answer means a worker imported the function (a CloudEvent function says 405 to GET).
            probe = f"{self.url(name)}/health" if name == "api" else f"{self.url(name)}/"
            waits[name] = (
                time.monotonic(),
                lambda p=process, u=probe: processes.wait_until(
                    p,
                    lambda: processes.http_status(u) is not None,
                    f"GET {u} answered",
                    READY_TIMEOUT_SECONDS,
                ),
            )
        return waits

    def _wait_all(self, waits: dict[str, tuple[float, Callable[[], float]]]) -> None:
        """Wait for every launched process in parallel, recording each one's seconds from launch to ready."""
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor
        from concurrent.futures import wait as wait_futures

        def wait(name: str, launched: float, ready: Callable[[], float]) -> None:
            ready()
            self.timings[name] = round(time.monotonic() - launched, 2)

        pool = ThreadPoolExecutor(max(len(waits), 1), thread_name_prefix="stack-wait")
        try:
            futures = [pool.submit(wait, name, launched, ready) for name, (launched, ready) in waits.items()]
            done, _ = wait_futures(futures, return_when=FIRST_EXCEPTION)
            for future in [*done, *futures]:
                future.result()  # the first failure raises at once; start() then stops all, ending the rest
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _ensure_topology(self) -> None:
        from devstack.standins.pubsub import ensure_alert_topology, ensure_topology

        # Push to every provider function's port, even when the functions are not started (tests), so that
        # publishing works; Pub/Sub then retries and dead-letters, as it would with a function that is down.
        endpoints = {provider: f"{self.url(provider)}/" for provider in self.provider_functions()}
        settings = self.settings()
        ensure_topology(self.project, settings.pubsub_emulator_host, endpoints, settings.topic_for)
        ensure_alert_topology(self.project, settings.pubsub_emulator_host, f"{self.url('notifier')}/")

    def stop(self) -> None:
        """Stop everything, all at once (each process's grace period runs alongside the others', not after them);
        idempotent, and a failing stop does not skip the others."""
        from concurrent.futures import ThreadPoolExecutor

        stoppers, self._stoppers = self._stoppers[::-1], []

        def stop(name: str, action: Callable[[], None]) -> None:
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest; report what could not stop
                self._echo(f"warning: stopping {name} failed: {exc!r}")

        if stoppers:
            with ThreadPoolExecutor(len(stoppers), thread_name_prefix="stack-stop") as pool:
                list(pool.map(lambda entry: stop(*entry), stoppers))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def describe(self) -> dict:
        """Every endpoint of the stack, the keys a developer needs, and how long it took to start."""
        return {
            "api_url": self.api_url,
            **{f"{name}_function_url": self.url(name) for name in self.provider_functions()},
            "notifier_function_url": self.url("notifier"),
            "bigquery_url": self.bigquery_url,
            "bigquery_grpc": f"{LOOPBACK}:{self.ports['bigquery_grpc']}",
            "pubsub_emulator_host": f"{LOOPBACK}:{self.ports['pubsub']}",
            "firestore_emulator_host": f"{LOOPBACK}:{self.ports['firestore']}",
            "kms_endpoint": f"{LOOPBACK}:{self.ports['kms']}",
            "tasks_endpoint": f"{LOOPBACK}:{self.ports['tasks']}",
            "tasks_queue": self.tasks_queue,
            "sandbox_url": self.sandbox_url,
            **{standin.stack_key: self.url(standin.name) for standin in self.source_standins()},
            "project": self.project,
            "environment": "local",
            "root_key": self.secrets["root_key"],
            "kms_key_name": self.kms_key_name,
            "demo_org": self.demo_org,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "startup_seconds": self.startup_seconds,
            "timings": self.timings,
            "logs_dir": str(self.data_dir / "logs"),
            "env": self.env(),
        }

    def write_stack_json(self, path: Path | None = None) -> dict:
        """Write describe() to `path` (default data_dir/stack.json), owner-only; returns what was written."""
        info = self.describe()
        _write_private(Path(path or self.data_dir / "stack.json"), info)
        return info
