"""The gcloud Firestore emulator (Native mode) run directly with Java: the control state's local stand-in."""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

from devstack.processes import LOOPBACK, ManagedProcess, StartupError, http_status, start_process, wait_until
from devstack.standins.pubsub import sdk_roots

READY_TIMEOUT_SECONDS = 60.0
JAR = "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
INSTALL_HINT = (
    "install it with `gcloud components install cloud-firestore-emulator` "
    "(or `apt-get install google-cloud-cli-firestore-emulator`)"
)


def find_emulator_jar() -> Path:
    """The Firestore emulator jar: $FIRESTORE_EMULATOR_JAR, else the one in the gcloud SDK."""
    if configured := os.environ.get("FIRESTORE_EMULATOR_JAR"):
        if Path(configured).is_file():
            return Path(configured)
        raise StartupError(f"FIRESTORE_EMULATOR_JAR={configured} does not exist")
    for root in sdk_roots():
        if (root / JAR).is_file():
            return root / JAR
    raise StartupError(f"the Firestore emulator is not installed in the gcloud SDK: {INSTALL_HINT}")


class FirestoreEmulator:
    """A running Firestore emulator; clients reach it with FIRESTORE_EMULATOR_HOST=`host`."""

    def __init__(self, process: ManagedProcess, port: int, project: str):
        self.process, self.port, self.project = process, port, project

    @property
    def host(self) -> str:
        """host:port for FIRESTORE_EMULATOR_HOST."""
        return f"{LOOPBACK}:{self.port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Wait until the emulator answers HTTP (it says "Ok" on /); returns seconds waited."""
        probe = f"http://{self.host}/"
        return wait_until(self.process, lambda: http_status(probe) == 200, f"GET {probe} answered", timeout)

    def clear(self) -> None:
        """Delete every document of the project's default database (the emulator's own reset endpoint)."""
        url = f"http://{self.host}/emulator/v1/projects/{self.project}/databases/(default)/documents"
        with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=30):
            pass

    def stop(self) -> None:
        """Stop the emulator (idempotent); its documents live in memory and go with it."""
        self.process.stop()


def launch_firestore(
    data_dir: Path, port: int, project: str, log_path: Path | None = None
) -> FirestoreEmulator:
    """Start the emulator jar with Java on loopback without waiting; call `wait_ready()` on the result.

    Its documents are control state (quota counters, runs in flight): they live in memory, as a restart of the
    stack also ends every run in flight; BigQuery keeps the run history.
    """
    java = shutil.which("java")
    if not java:
        raise StartupError(
            "java is not on PATH; the Firestore emulator needs a Java 11+ runtime "
            "(e.g. apt-get install openjdk-17-jre-headless)"
        )
    # Run the jar itself: stopping the `gcloud emulators firestore` wrapper would leave its Java process behind.
    argv = [
        java,
        "-Duser.language=en",  # the emulator's errors are English only
        "-cp",
        str(find_emulator_jar()),
        MAIN_CLASS,
        f"--host={LOOPBACK}",
        f"--port={port}",
        f"--project_id={project}",
    ]
    log = log_path or Path(data_dir) / "logs" / "firestore.log"
    return FirestoreEmulator(start_process("firestore-emulator", argv, log, dict(os.environ)), port, project)


def firestore_source_standin():
    """The emulator as a source stand-in, for the provider suite's cases whose source is records in the control
    store (SaaS plans): the local stack already runs Firestore, so no provider's local half lists this."""
    from devstack.standins.source import SourceStandin

    return SourceStandin(
        name="firestore_source",
        default_port=8096,
        # The emulator serves any project id a client names; the one given here is only its default.
        launch=lambda data_dir, port: launch_firestore(data_dir, port, "suite-service"),
        env=lambda url: {"FIRESTORE_EMULATOR_HOST": url.removeprefix("http://")},
        stack_key="firestore_source_endpoint",
    )
