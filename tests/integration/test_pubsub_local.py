"""The Pub/Sub emulator topology: idempotent set-up, and push delivery to a local HTTP endpoint."""

import base64
import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devstack.processes import free_port
from devstack.standins.pubsub import ensure_topology, launch_pubsub

PROJECT = "local-project"
SUBSCRIPTIONS = f"projects/{PROJECT}/subscriptions"


def topic_for(provider: str) -> str:
    return f"pipeline-runs-{provider}"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """The Pub/Sub emulator on a free port for this module."""
    pubsub = launch_pubsub(tmp_path_factory.mktemp("pubsub"), free_port())
    try:
        pubsub.wait_ready()
        yield pubsub
    finally:
        pubsub.stop()


@pytest.fixture
def receiver():
    """A tiny push endpoint on a free port; yields (url, queue of decoded push bodies)."""
    received = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def clients(emulator, monkeypatch):
    """Publisher and subscriber clients on the emulator (the environment is restored afterwards)."""
    from google.cloud import pubsub_v1

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    yield publisher, subscriber
    subscriber.close()


def test_topology_is_idempotent_and_repoints_a_moved_endpoint(emulator, clients):
    _, subscriber = clients
    endpoints = {"openai": "http://127.0.0.1:1/"}
    assert ensure_topology(PROJECT, emulator.host, endpoints, topic_for) == {
        "openai": f"{SUBSCRIPTIONS}/pipeline-runs-openai-push"
    }
    ensure_topology(PROJECT, emulator.host, endpoints, topic_for)  # again: no error, nothing changes
    ensure_topology(PROJECT, emulator.host, {"openai": "http://127.0.0.1:2/"}, topic_for)
    push = subscriber.get_subscription(subscription=f"{SUBSCRIPTIONS}/pipeline-runs-openai-push")
    assert push.push_config.push_endpoint == "http://127.0.0.1:2/"
    assert push.ack_deadline_seconds == 600
    assert (
        push.dead_letter_policy.dead_letter_topic
        == f"projects/{PROJECT}/topics/pipeline-runs-openai-dead-letter"
    )
    assert push.dead_letter_policy.max_delivery_attempts == 5
    assert push.retry_policy.minimum_backoff.total_seconds() == 1
    dlq_sub = subscriber.get_subscription(
        subscription=f"{SUBSCRIPTIONS}/pipeline-runs-openai-dead-letter-hold"
    )
    assert dlq_sub.topic == f"projects/{PROJECT}/topics/pipeline-runs-openai-dead-letter"
    assert dlq_sub.ack_deadline_seconds == 60 and not dlq_sub.push_config.push_endpoint


def test_a_published_message_is_pushed_to_the_endpoint(emulator, clients, receiver):
    publisher, _ = clients
    url, received = receiver
    ensure_topology(PROJECT, emulator.host, {"anthropic": url}, topic_for)
    topic = publisher.topic_path(PROJECT, topic_for("anthropic"))
    publisher.publish(topic, b'{"run": 1}', org_slug="acmecorp").result(timeout=10)
    body = received.get(timeout=10)
    assert base64.b64decode(body["message"]["data"]) == b'{"run": 1}'
    assert body["message"]["attributes"] == {"org_slug": "acmecorp"}
    assert body["subscription"] == f"{SUBSCRIPTIONS}/pipeline-runs-anthropic-push"
