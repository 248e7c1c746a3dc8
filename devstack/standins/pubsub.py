"""The gcloud Pub/Sub emulator run directly with Java, and the topics and push subscriptions of the stack."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from devstack.processes import (
    LOOPBACK,
    ManagedProcess,
    StartupError,
    http_status,
    start_process,
    wait_until,
)

READY_TIMEOUT_SECONDS = 60.0
ACK_DEADLINE_SECONDS = 600
MAX_DELIVERY_ATTEMPTS = 5  # the least Pub/Sub (and the emulator) accepts
DEAD_LETTER_ACK_DEADLINE_SECONDS = 60
ALERT_RETRY_POLICY = {"minimum_backoff": {"nanos": 100_000_000}, "maximum_backoff": {"seconds": 1}}
JAR_GLOB = "platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar"
INSTALL_HINT = (
    "install it with `gcloud components install pubsub-emulator` "
    "(or `apt-get install google-cloud-cli-pubsub-emulator`)"
)


def sdk_roots() -> list[Path]:
    """Where the gcloud SDK may be installed (its emulator components live under <root>/platform/)."""
    roots = []
    if gcloud := shutil.which("gcloud"):
        # Fast path: <root>/bin/gcloud; `gcloud info` below costs ~0.5 s, so ask it only if needed.
        roots.append(Path(os.path.realpath(gcloud)).parent.parent)
        try:
            out = subprocess.run(
                [gcloud, "info", "--format=value(installation.sdk_root)"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            roots.append(Path(out))
    return roots


def find_emulator_jar() -> Path:
    """The Pub/Sub emulator jar: $PUBSUB_EMULATOR_JAR, else the one in the gcloud SDK."""
    if configured := os.environ.get("PUBSUB_EMULATOR_JAR"):
        if Path(configured).is_file():
            return Path(configured)
        raise StartupError(f"PUBSUB_EMULATOR_JAR={configured} does not exist")
    if not shutil.which("gcloud"):
        raise StartupError(
            f"gcloud is not on PATH, so the Pub/Sub emulator cannot be found: install the "
            f"Google Cloud CLI, then {INSTALL_HINT}; or set PUBSUB_EMULATOR_JAR"
        )
    for root in sdk_roots():
        if jars := sorted(root.glob(JAR_GLOB)):
            return jars[-1]
    raise StartupError(f"the Pub/Sub emulator is not installed in the gcloud SDK: {INSTALL_HINT}")


class PubSubEmulator:
    """A running Pub/Sub emulator; clients reach it with PUBSUB_EMULATOR_HOST=`host`."""

    def __init__(self, process: ManagedProcess, port: int):
        self.process = process
        self.port = port

    @property
    def host(self) -> str:
        """host:port for PUBSUB_EMULATOR_HOST."""
        return f"{LOOPBACK}:{self.port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> float:
        """Wait until the emulator answers HTTP (it says "Ok" on /); returns seconds waited."""
        probe = f"http://{self.host}/"
        return wait_until(self.process, lambda: http_status(probe) == 200, f"GET {probe} answered", timeout)

    def stop(self) -> None:
        """Stop the emulator (idempotent); it keeps nothing on disk."""
        self.process.stop()


def launch_pubsub(data_dir: Path, port: int, log_path: Path | None = None) -> PubSubEmulator:
    """Start the emulator jar with Java on loopback without waiting; call `wait_ready()` on the result."""
    java = shutil.which("java")
    if not java:
        raise StartupError(
            "java is not on PATH; the Pub/Sub emulator needs a Java 11+ runtime "
            "(e.g. apt-get install openjdk-17-jre-headless)"
        )
    # Run the jar itself: stopping the `gcloud beta emulators` wrapper would leave its Java process behind.
    argv = [java, "-jar", str(find_emulator_jar()), f"--host={LOOPBACK}", f"--port={port}"]
    log = log_path or Path(data_dir) / "logs" / "pubsub.log"
    return PubSubEmulator(start_process("pubsub-emulator", argv, log, dict(os.environ)), port)


def _ensure_topic(publisher, project: str, topic_id: str) -> str:
    from google.api_core import exceptions

    path = publisher.topic_path(project, topic_id)
    try:
        publisher.create_topic(request={"name": path})
    except exceptions.AlreadyExists:
        pass
    return path


def _differs(current, wanted, fields) -> bool:
    # Compare only what we set: the service fills in defaults (retention, ack deadline) we do not manage.
    return any(getattr(current, field) != getattr(wanted, field) for field in fields)


def _ensure_subscription(subscriber, desired: dict) -> None:
    """Create the subscription; if it exists with other settings, fix the endpoint or recreate it."""
    from google.api_core import exceptions
    from google.pubsub_v1 import Subscription

    wanted, name = Subscription(desired), desired["name"]
    try:
        subscriber.create_subscription(request=desired)
        return
    except exceptions.AlreadyExists:
        pass
    current = subscriber.get_subscription(request={"subscription": name})
    if not _differs(current, wanted, desired):
        return
    if current.push_config.push_endpoint != wanted.push_config.push_endpoint:
        # Ports moved since the last start: repoint it in place, keeping its backlog.
        subscriber.modify_push_config(request={"subscription": name, "push_config": wanted.push_config})
        current = subscriber.get_subscription(request={"subscription": name})
    if _differs(current, wanted, desired):
        subscriber.delete_subscription(request={"subscription": name})
        subscriber.create_subscription(request=desired)


def _emulator_clients(emulator_host: str):
    """A publisher and a subscriber on the emulator, leaving os.environ as it was."""
    from google.cloud import pubsub_v1

    # The library reads PUBSUB_EMULATOR_HOST only while building a client (insecure channel, no credentials).
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator_host
    try:
        return pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    finally:
        if previous is None:
            del os.environ["PUBSUB_EMULATOR_HOST"]
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous


def _push_subscription(name: str, topic: str, endpoint: str, dlq: str) -> dict:
    return {
        "name": name,
        "topic": topic,
        "push_config": {"push_endpoint": endpoint},
        "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
        "dead_letter_policy": {"dead_letter_topic": dlq, "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS},
        "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 60}},
    }


def _hold_subscription(name: str, topic: str) -> dict:
    # Long enough to store a pulled batch in BigQuery before acknowledging it (else it is pulled again).
    return {"name": name, "topic": topic, "ack_deadline_seconds": DEAD_LETTER_ACK_DEADLINE_SECONDS}


def ensure_topology(
    project: str, emulator_host: str, push_endpoints: dict[str, str], topic_for: Callable[[str], str]
) -> dict[str, str]:
    """Per provider: topic, its `-dead-letter` topic + pull sub `-dead-letter-hold`, push sub `-push`; returns the
    push subs."""
    publisher, subscriber = _emulator_clients(emulator_host)
    created = {}
    try:
        for provider, endpoint in push_endpoints.items():
            topic_id = topic_for(provider)
            topic = _ensure_topic(publisher, project, topic_id)
            # Named as terraform/modules/run_topic names them (Settings.dead_letter_topic_for / _subscription_for).
            dlq = _ensure_topic(publisher, project, f"{topic_id}-dead-letter")
            # A pull subscription on the DLQ keeps dead letters until shared/dead_letters/store.py drains them.
            dlq_sub = subscriber.subscription_path(project, f"{topic_id}-dead-letter-hold")
            _ensure_subscription(subscriber, _hold_subscription(dlq_sub, dlq))
            push_sub = subscriber.subscription_path(project, f"{topic_id}-push")
            _ensure_subscription(subscriber, _push_subscription(push_sub, topic, endpoint, dlq))
            created[provider] = push_sub
    finally:
        subscriber.close()
        publisher.transport.close()
    return created


def ensure_alert_topology(project: str, emulator_host: str, notifier_endpoint: str) -> str:
    """cost-alerts (shared/alerts/ledger.py publishes it): push sub `-push` to the notifier, with `-dead-letter`
    and its hold sub, and the platform's pull sub `-platform` (as terraform/modules/alerts makes them); returns
    the push sub."""
    from shared.alerts.ledger import TOPIC

    publisher, subscriber = _emulator_clients(emulator_host)
    try:
        topic = _ensure_topic(publisher, project, TOPIC)
        dlq = _ensure_topic(publisher, project, f"{TOPIC}-dead-letter")
        hold = subscriber.subscription_path(project, f"{TOPIC}-dead-letter-hold")
        _ensure_subscription(subscriber, _hold_subscription(hold, dlq))
        platform = subscriber.subscription_path(project, f"{TOPIC}-platform")
        _ensure_subscription(subscriber, _hold_subscription(platform, topic))
        push = subscriber.subscription_path(project, f"{TOPIC}-push")
        desired = _push_subscription(push, topic, notifier_endpoint, dlq)
        # Locally a failing webhook reaches the dead letter in about a second (Terraform: 10 s .. 600 s).
        desired["retry_policy"] = ALERT_RETRY_POLICY
        _ensure_subscription(subscriber, desired)
    finally:
        subscriber.close()
        publisher.transport.close()
    return push
