"""The alerts' Terraform, parsed (no provider): the cost-alerts topic the ledger publishes to, the notifier's push
subscription with its dead letter, the platform's pull subscription, the notifier deployed with its identity and
grants, and the provider functions allowed to publish."""

from __future__ import annotations

import json

from shared.alerts.ledger import TOPIC
from tests.unit.test_terraform import TERRAFORM, _load, _locals, _unquote, module_calls

ALERTS = TERRAFORM / "modules" / "alerts"
SERVICE = TERRAFORM / "modules" / "service" / "main.tf"


def _variable_default(name: str):
    for block in _load(ALERTS / "variables.tf")["variable"]:
        if name in block or f'"{name}"' in block:
            return _unquote(block.get(name, block.get(f'"{name}"'))["default"])
    raise KeyError(name)


def _resources(path, kind: str) -> dict[str, dict]:
    """name => body of the resources of one kind in one file (parsing only it: the whole tree takes seconds)."""
    found = {}
    for block in _load(path).get("resource", []):
        for rtype, named in block.items():
            if _unquote(rtype) == kind:
                found.update({_unquote(name): body for name, body in named.items()})
    return found


def _alerts_resources(kind: str) -> dict[str, dict]:
    return _resources(ALERTS / "main.tf", kind)


def test_the_topic_is_the_one_the_ledger_publishes_to():
    assert _variable_default("topic_name") == TOPIC
    topics = _alerts_resources("google_pubsub_topic")
    assert _unquote(topics["alerts"]["name"]) == "${var.topic_name}"
    assert _unquote(topics["dead_letter"]["name"]) == "${var.topic_name}-dead-letter"


def test_the_notifier_pushes_with_oidc_retries_and_a_dead_letter_and_the_platform_pulls():
    subscriptions = _alerts_resources("google_pubsub_subscription")
    assert set(subscriptions) == {"push", "platform", "dead_letter"}
    push, platform = subscriptions["push"], subscriptions["platform"]
    assert (
        push["push_config"][0]["oidc_token"][0]["service_account_email"]
        == "${var.push_service_account_email}"
    )
    for subscription in (push, platform):
        assert subscription["topic"] == "${google_pubsub_topic.alerts.id}"
        assert _unquote(subscription["retry_policy"][0]["minimum_backoff"]) == "10s"
        policy = subscription["dead_letter_policy"][0]
        assert policy["dead_letter_topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert "push_config" not in platform
    assert subscriptions["dead_letter"]["topic"] == "${google_pubsub_topic.dead_letter.id}"


def test_the_service_deploys_the_notifier_and_wires_the_alerts_module():
    functions = json.dumps(_locals(SERVICE)["functions"])
    assert "notifier" in functions and "ALLOW_INTERNAL_ONLY" in functions
    call = module_calls(SERVICE)["alerts"]
    assert call["push_endpoint"] == '${module.functions["notifier"].url}'
    assert "local.identity[provider]" in call["publisher_members"]  # every provider function publishes alerts
    invokers = _resources(SERVICE, "google_cloud_run_service_iam_member")
    assert invokers["pusher_invokes_notifier"]["service"] == '${module.functions["notifier"].service_name}'
    decrypters = _resources(SERVICE, "google_kms_crypto_key_iam_member")
    assert _unquote(decrypters["notifier_decrypts"]["role"]) == "roles/cloudkms.cryptoKeyDecrypter"
    assert "notifier" in json.dumps(_locals(TERRAFORM / "bootstrap" / "main.tf")["runtime"])
