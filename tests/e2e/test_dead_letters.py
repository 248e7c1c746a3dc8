"""Dead letters end to end: Pub/Sub gives up on a run message, the admin routes list it with its run and reason,
a replay runs it once to COMPLETED with exact rows, and a second replay changes nothing."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from shared.runs import publish
from shared.runs.control import control_db
from shared.runs.run_log import RunLog
from tests.kit.runs import reserve, root_headers, running_slots, wait_for_run, wait_until
from tests.kit.totals import sandbox_cost_total, table_facts

pytestmark = pytest.mark.stack
DAY = date(2025, 11, 6)
LIST, REPLAY = "/api/v1/admin/dead-letters", "/api/v1/admin/dead-letters/replay"


@pytest.fixture
def broken_function():
    """A push endpoint answering 503 to everything: a provider function that is down (bad deploy, outage)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _letters(stack, org_slug) -> list[dict]:
    """GET the org's dead letters (the call drains the subscriptions first)."""
    response = httpx.get(
        stack.api_url + LIST, params={"org_slug": org_slug}, headers=root_headers(stack), timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()["dead_letters"]


def _listed(stack, org_slug) -> list[dict]:
    """The org's dead letters, once there is one."""
    return wait_until(lambda: _letters(stack, org_slug), interval=1, what=f"a dead letter for {org_slug}")


def _replay(stack, body) -> httpx.Response:
    return httpx.post(stack.api_url + REPLAY, json=body, headers=root_headers(stack), timeout=120)


def test_dead_lettered_run_is_listed_replayed_once_and_completes(
    stack, settings, warehouse, new_org, broken_function
):
    from google.cloud import pubsub_v1

    org = new_org()
    request = reserve(settings, warehouse, org["org_slug"], DAY)
    # A topic of its own whose push subscription (the emulator's minimum of 5 deliveries) dead-letters into the
    # real openai dead-letter topic: the worker would fail a run itself after 4 claims, so a run message lands
    # there only when the function never settles it, as here.
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    broken = dataclasses.replace(settings, topic_prefix=f"dltest-{uuid.uuid4().hex[:8]}")
    topic = publisher.create_topic(
        name=publisher.topic_path(settings.project, broken.topic_for("openai"))
    ).name
    push = subscriber.subscription_path(settings.project, f"{broken.topic_for('openai')}-push")
    dead_letter_topic = publisher.topic_path(settings.project, settings.dead_letter_topic_for("openai"))
    subscriber.create_subscription(
        request={
            "name": push,
            "topic": topic,
            "push_config": {"push_endpoint": broken_function},
            "dead_letter_policy": {"dead_letter_topic": dead_letter_topic, "max_delivery_attempts": 5},
            "retry_policy": {"minimum_backoff": {"seconds": 0}, "maximum_backoff": {"seconds": 1}},
        }
    )
    try:
        publish.publish_run(publisher, broken, request)
        [letter] = _listed(stack, org["org_slug"])
    finally:
        subscriber.delete_subscription(subscription=push)
        publisher.delete_topic(topic=topic)
    assert letter["pipeline_logging_id"] == request.pipeline_logging_id and letter["provider"] == "openai"
    assert letter["delivery_attempts"] == 5 and letter["run_status"] == "PENDING"
    assert letter["error_code"] == "requested" and "5 deliveries" in letter["error_message"]
    assert letter["replay_count"] == 0 and letter["replayed_at"] is None

    # Another org never sees these routes: an org key is not the root key.
    other = new_org()
    for headers in ({"X-API-Key": other["api_key"]}, {"X-CA-Root-Key": other["api_key"]}):
        assert httpx.get(stack.api_url + LIST, headers=headers, timeout=30).status_code == 401
        refused = httpx.post(stack.api_url + REPLAY, json={"all": True}, headers=headers, timeout=30)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "INVALID_ROOT_KEY"

    # The function is fixed: replay publishes the run to the real topic; it runs once, to exact rows.
    answer = _replay(stack, {"message_ids": [letter["message_id"]]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["replayed"] == 1 and answer.json()["results"][0]["outcome"] == "replayed"
    run = wait_for_run(stack, org, request.pipeline_logging_id)
    assert run["status"] == "COMPLETED", run
    facts = table_facts(settings, warehouse, org["org_slug"])
    assert facts[3] == sandbox_cost_total(stack, DAY.isoformat(), DAY.isoformat())
    assert running_slots(settings, warehouse, org["org_slug"]) == 0

    # Again: a no-op, reported as such; no second copy, no new run, the letter unchanged.
    before = RunLog(warehouse, settings).get(org["org_slug"], request.pipeline_logging_id)
    again = _replay(stack, {"message_ids": [letter["message_id"]]})
    assert again.status_code == 200 and again.json()["results"][0]["outcome"] == "already_completed"
    time.sleep(1.0)
    assert table_facts(settings, warehouse, org["org_slug"]) == facts
    assert RunLog(warehouse, settings).list_for_org(org["org_slug"], 10) == [before]
    [after] = _listed(stack, org["org_slug"])
    assert after["replay_count"] == 1 and after["current_status"] == "COMPLETED"


def test_a_failed_run_is_replayed_only_into_a_free_concurrency_slot(
    stack, settings, warehouse, new_org, capsys
):
    from google.cloud import pubsub_v1

    from shared.dead_letters.store import store

    org = new_org(plan="starter")  # one concurrent run
    slug, run_log = org["org_slug"], RunLog(warehouse, settings)
    failed = reserve(settings, warehouse, slug, DAY, plan="starter")
    run_log.fail(
        slug, failed.pipeline_logging_id, "PENDING", "PROVIDER_UNAVAILABLE", "Gave up after 4 attempts"
    )
    # Publish straight to the dead-letter topic, as Pub/Sub forwards a message it gave up on.
    publisher = pubsub_v1.PublisherClient()
    dead_letter_topic = publisher.topic_path(settings.project, settings.dead_letter_topic_for("openai"))
    data = json.dumps(failed.to_message()).encode()
    publisher.publish(dead_letter_topic, data, CloudPubSubDeadLetterSourceDeliveryCount="5").result(
        timeout=30
    )
    [letter] = _listed(stack, slug)
    assert (letter["run_status"], letter["error_code"]) == ("FAILED", "PROVIDER_UNAVAILABLE")
    # Storing the same message again (a pull redelivered before its ack) keeps one row.
    store(control_db(settings), [{**letter, "payload": None, "source_subscription": None}])
    assert len(_listed(stack, slug)) == 1

    # An identical run in flight: replaying would run the same dates twice at once.
    twin = reserve(
        settings, warehouse, slug, DAY, plan="starter"
    ).pipeline_logging_id  # also takes the only slot
    answer = _replay(stack, {"all": True, "org_slug": slug})
    assert answer.json()["results"][0]["outcome"] == "duplicate_in_flight" and answer.json()["replayed"] == 0
    assert run_log.transition(slug, twin, "PENDING", "CANCELLED", reason="test")

    holder = reserve(settings, warehouse, slug, date(2025, 11, 7), plan="starter").pipeline_logging_id
    refused = _replay(stack, {"all": True, "org_slug": slug})
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "CONCURRENCY_LIMIT_REACHED"
    assert refused.headers["Retry-After"]
    assert run_log.status(slug, failed.pipeline_logging_id) == "FAILED"
    assert running_slots(settings, warehouse, slug) == 1  # nothing taken, nothing leaked

    assert run_log.transition(slug, holder, "PENDING", "CANCELLED", reason="test frees the slot")
    answer = _replay(stack, {"all": True, "org_slug": slug, "provider": "openai"})
    assert answer.status_code == 200 and answer.json()["replayed"] == 1, answer.text
    run = wait_for_run(stack, org, failed.pipeline_logging_id)
    assert run["status"] == "COMPLETED" and run["error_code"] is None
    assert running_slots(settings, warehouse, slug) == 0

    # The CLI reads the same routes: the letter is listed as replayed once; replaying it again is a no-op.
    from devstack.cli import main

    capsys.readouterr()
    assert main(["--json", "dead-letters", "list", "--org", slug, "--api-url", stack.api_url]) == 0
    [listed] = json.loads(capsys.readouterr().out)["dead_letters"]
    assert listed["replay_count"] == 1 and listed["current_status"] == "COMPLETED"
    assert main(["dead-letters", "replay", letter["message_id"], "--api-url", stack.api_url]) == 0
    assert f"{letter['message_id']}: already_completed" in capsys.readouterr().out
