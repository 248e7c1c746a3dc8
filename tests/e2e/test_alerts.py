"""Alerts end to end on one stack and one org: a SaaS plan priced over five weeks with a planted spike on the last
day (seats 10 -> 1000), loaded by the real worker entry with the same message three times in turn, then a second
evaluation of the same load three times at once: exactly one anomaly alert and one budget alert in the org's alerts table,
on cost-alerts, and at the org's webhook (a real local receiver), correctly signed. Then a receiver that fails:
the notifier is retried by Pub/Sub and the alert lands on the dead-letter topic. The maths is in
tests/unit/test_alert_detection.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from shared.alerts import ledger
from shared.alerts.evaluate import evaluate_after_load
from shared.providers.saas import PROVIDER as SAAS
from shared.runs.control import control_db
from shared.worker.entry import handle_run_event
from tests.kit.runs import event_for, new_run, wait_until, worker_deps

PIPELINE = "saas/cost/subscriptions"
LAST = date(2026, 10, 14)  # the spike: a Wednesday
FIRST = LAST - timedelta(days=35)  # five weeks of history before it: the anomaly baseline needs four
PLAN = {
    "vendor": "Slack",
    "product": "Slack",
    "plan": "Business+",
    "seats": 10,
    "unit_price": "30.00",
    "currency": "USD",
    "billing_cycle": "monthly",
    "start_date": FIRST.isoformat(),
}
SECRET = "whsec_alerts_e2e_0123456789abcdef"


DEAD_LETTER_ID = "alr_deadletter00000000000000"


class Receiver:
    """A local webhook: records every POST (headers, raw body); answers 500 to the alert DEAD_LETTER_ID (a
    receiver failing on it), 200 to the others."""

    def __init__(self):
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(500 if self.headers["X-DPS-Alert-Id"] == DEAD_LETTER_ID else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _api(stack, org, method, path, **kwargs) -> httpx.Response:
    url = f"{stack.api_url}/api/v1/alerts/{org['org_slug']}{path}"
    return httpx.request(method, url, headers={"X-API-Key": org["api_key"]}, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def receiver():
    started = Receiver()
    yield started
    started.close()


@pytest.fixture(scope="module")
def dead_letter_alert(settings, kms, receiver):
    """An alert whose receiver fails, published first thing: Pub/Sub's retries of it (seconds on the emulator)
    run while the loads of the other tests do. Its org needs no onboarding: the notifier reads only its webhook."""
    from shared.alerts import webhook
    from tests.kit.orgs import unique_slug

    slug = unique_slug("dl")
    webhook.set_webhook(control_db(settings), kms, settings, slug, {"url": receiver.url, "secret": SECRET})
    row = {"alert_id": DEAD_LETTER_ID, "org_slug": slug, "kind": "anomaly", "period": "2026-10-15",
           "message": "dead letter test"}  # fmt: skip
    ledger.publish_alert(worker_deps(settings, None, None).publisher_client(), settings, row)
    return row


@pytest.fixture(scope="module")
def org(stack, settings, receiver, dead_letter_alert):
    """An org with the plan, a change to 1000 seats on LAST, three budgets and the webhook."""
    from shared.saas import plans
    from tests.kit.orgs import onboard

    created = onboard(settings, credential=False, prefix="al")
    db, slug = control_db(settings), created["org_slug"]
    plan = plans.create_plan(db, slug, PLAN)
    plans.change_plan(db, slug, plan["subscription_id"], {"seats": 1000}, LAST)
    # September's 22 days cost 220 (10 a day), October's days to the 14th far more: only October crosses 500.
    budgets = [
        {"name": "Slack", "provider": "Slack", "currency": "USD", "amount": "500.00",
         "thresholds": [{"percent": 100, "basis": "actual"}]},
        {"name": "Euro spend", "currency": "EUR", "amount": "1.00"},  # no EUR rows: never summed with USD
        {"name": "OpenAI", "provider": "OpenAI", "currency": "USD", "amount": "1.00"},  # no OpenAI rows
    ]  # fmt: skip
    ids = []
    for budget in budgets:
        answer = _api(stack, created, "POST", "/budgets", json=budget)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["budget_id"])
    hook = _api(stack, created, "PUT", "/webhook", json={"url": receiver.url, "secret": SECRET})
    assert hook.status_code == 200 and "secret" not in hook.json(), hook.text
    return {**created, "budget_ids": ids}


def _alerts(warehouse, settings, slug) -> list[tuple]:
    table = warehouse.table_id(settings.org_dataset(slug), "alerts")
    rows = warehouse.query(f"SELECT kind, scope, period, threshold, observed, expected FROM `{table}`")
    return sorted((r["kind"], r["scope"], r["period"], r["threshold"]) for r in rows)


def _verified(headers: dict, body: bytes) -> bool:
    timestamp = headers["X-DPS-Timestamp"]
    digest = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-DPS-Signature"], f"v1={digest}")


def test_a_spike_and_a_budget_crossing_alert_once_under_redelivery(
    stack, settings, warehouse, kms, org, receiver
):
    slug, deps = org["org_slug"], worker_deps(settings, warehouse, kms)
    first = new_run(settings, warehouse, slug, PIPELINE, FIRST, LAST)
    outcomes = [handle_run_event(event_for(first, "m-1"), SAAS, deps) for _ in range(3)]
    assert outcomes == ["completed", "duplicate", "duplicate"]
    # Evaluations of the same load racing (three instances finishing it at once): the ledger lets one through.
    with ThreadPoolExecutor(3) as pool:
        raced = list(
            pool.map(
                lambda _: evaluate_after_load(deps, slug, first.pipeline_logging_id, FIRST, LAST), range(3)
            )
        )
    assert [sum(counts.values()) for counts in raced] == [2, 2, 2]
    assert all(set(counts) <= {"done", "held"} for counts in raced)

    expected = [
        ("anomaly", "Slack|Slack|USD", LAST.isoformat(), "mad5"),
        ("budget", org["budget_ids"][0], "2026-10", "100:actual"),
    ]
    assert _alerts(warehouse, settings, slug) == expected
    # The webhook got each alert once, signed with the org's secret over timestamp and raw body.
    loaded = lambda: [(h, body) for h, body in receiver.received if h["X-DPS-Alert-Id"] != DEAD_LETTER_ID]
    wait_until(lambda: len(loaded()) >= 2, 30, what="two webhook deliveries")
    delivered = sorted((json.loads(body)["kind"], json.loads(body)["period"]) for _, body in loaded())
    assert delivered == [("anomaly", LAST.isoformat()), ("budget", "2026-10")]
    assert all(_verified(headers, body) for headers, body in loaded())
    assert [h["X-DPS-Alert-Id"] for h, _ in loaded()] == [
        json.loads(body)["alert_id"] for _, body in loaded()
    ]
    tampered_headers, tampered = loaded()[0][0], loaded()[0][1].replace(b"Slack", b"Slick")
    assert not _verified(tampered_headers, tampered)


def test_a_dead_caller_is_recovered_and_its_row_written_once(settings, warehouse, org):
    """A caller that died after claiming an alert (and maybe after its row): the next one past the lease finishes
    it, writing the row only if it is not there."""
    slug, db = org["org_slug"], control_db(settings)
    row = {
        "alert_id": "alr_recovery000000000000000", "org_slug": slug, "kind": "budget", "scope": "bud_x",
        "period": "2026-09", "threshold": "50:actual", "provider_name": None, "service_name": None,
        "currency": "USD", "metric": "EffectiveCost", "observed": "1", "expected": "2", "bound": "1",
        "budget_id": "bud_x", "budget_name": "x", "message": "recovery test", "pipeline_logging_id": None,
        "created_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    stale = datetime.now(UTC) - timedelta(seconds=ledger.LEASE_SECONDS + 1)
    entry = ledger.entry_ref(db, slug, row["alert_id"])
    entry.create({"alert_id": row["alert_id"], "state": ledger.CLAIMED, "token": "dead", "claimed_at": stale,
                  "row": row})  # fmt: skip
    publisher = worker_deps(settings, warehouse, None).publisher_client()
    fresh = ledger.record_alert(db, warehouse, publisher, settings, row)
    assert fresh == "recovered"
    assert ledger.record_alert(db, warehouse, publisher, settings, row) == "done"
    assert entry.get().to_dict()["state"] == ledger.PUBLISHED
    table = warehouse.table_id(settings.org_dataset(slug), "alerts")
    count = warehouse.query(
        f"SELECT COUNT(*) AS n FROM `{table}` WHERE alert_id = @id", {"id": row["alert_id"]}
    )
    assert count[0]["n"] == 1


def test_a_failing_webhook_is_retried_and_dead_lettered_by_its_subscription(
    settings, receiver, dead_letter_alert
):
    """The receiver answers 500 to one alert: the notifier fails the delivery and Pub/Sub redelivers it, signed each
    time; after MAX_DELIVERY_ATTEMPTS the subscription's dead-letter policy moves it to cost-alerts-dead-letter,
    held by its pull subscription. (That last hop is Pub/Sub's own: the emulator takes 12-20 s over its five
    attempts, past this tier's time budget, so the test reads the policy instead of waiting for it; it was
    observed arriving when written, see the README's Alerts section.)"""
    from google.cloud import pubsub_v1

    from devstack.standins.pubsub import MAX_DELIVERY_ATTEMPTS

    attempts = lambda: [(h, b) for h, b in receiver.received if h["X-DPS-Alert-Id"] == DEAD_LETTER_ID]
    wait_until(lambda: len(attempts()) >= 2, 30, what="a redelivery of the failing alert")
    assert all(_verified(headers, body) for headers, body in attempts())
    subscriber = pubsub_v1.SubscriberClient()
    try:
        path = lambda name: subscriber.subscription_path(settings.project, f"{ledger.TOPIC}-{name}")
        push = subscriber.get_subscription(request={"subscription": path("push")})
        hold = subscriber.get_subscription(request={"subscription": path("dead-letter-hold")})
    finally:
        subscriber.close()
    dead_letter_topic = f"projects/{settings.project}/topics/{ledger.TOPIC}-dead-letter"
    assert push.dead_letter_policy.dead_letter_topic == dead_letter_topic
    assert push.dead_letter_policy.max_delivery_attempts == MAX_DELIVERY_ATTEMPTS
    assert hold.topic == dead_letter_topic


def test_the_cli_manages_budgets_and_the_webhook(org, receiver, capsys):
    """`dps alerts budget add|list|show|change|delete` and `dps alerts webhook set|clear` on the same stores."""
    from shared.cli.main import main

    def dps(*argv) -> tuple[int, dict]:
        code = main(["--json", "alerts", *argv])
        out = capsys.readouterr().out
        return code, json.loads(out)

    slug = org["org_slug"]
    code, added = dps("budget", "add", slug, "--name", "CLI", "--amount", "250.50", "--currency", "EUR",
                      "--threshold", "80", "--threshold", "100:forecast")  # fmt: skip
    assert code == 0 and added["thresholds"] == [
        {"percent": 80, "basis": "actual"},
        {"percent": 100, "basis": "forecast"},
    ]
    budget_id = added["budget_id"]
    assert budget_id in [b["budget_id"] for b in dps("budget", "list", slug)[1]["budgets"]]
    assert dps("budget", "show", slug, budget_id)[1]["amount"] == "250.50"
    code, changed = dps("budget", "change", slug, budget_id, "--amount", "300", "--if-version", "1")
    assert code == 0 and (changed["amount"], changed["version"]) == ("300", 2)
    code, refused = dps("budget", "change", slug, budget_id, "--amount", "1", "--if-version", "1")
    assert code == 2 and "BUDGET_CONFLICT" in refused["error"]["message"]
    assert dps("budget", "delete", slug, budget_id)[0] == 0
    code, gone = dps("budget", "show", slug, budget_id)
    assert code == 2 and "BUDGET_NOT_FOUND" in gone["error"]["message"]
    code, stored = dps("webhook", "set", slug, receiver.url)
    assert code == 0 and stored["secret"].startswith("whsec_")  # generated, shown once
    assert dps("webhook", "clear", slug)[1] == {"cleared": True}


ROUTES = [
    ("POST", "/budgets"),
    ("GET", "/budgets"),
    ("GET", "/budgets/bud_0123456789abcdef01234567"),
    ("PATCH", "/budgets/bud_0123456789abcdef01234567"),
    ("DELETE", "/budgets/bud_0123456789abcdef01234567"),
    ("PUT", "/webhook"),
    ("DELETE", "/webhook"),
]


def test_every_alert_route_refuses_a_missing_or_wrong_key(stack, org):
    """No key, or one that is not a key: 401 UNAUTHENTICATED before anything is read or written."""
    for method, path in ROUTES:
        for headers in ({}, {"X-API-Key": "dps_not_a_key"}):
            url = f"{stack.api_url}/api/v1/alerts/{org['org_slug']}{path}"
            body = {"json": {"name": "x"}} if method in ("POST", "PATCH", "PUT") else {}
            answer = httpx.request(method, url, headers=headers, timeout=30, **body)
            assert (answer.status_code, answer.json()["error"]["code"]) == (401, "UNAUTHENTICATED"), (
                method,
                path,
            )
