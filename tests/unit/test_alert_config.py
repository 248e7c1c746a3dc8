"""Budget fields and webhook settings as the API validates them, and the webhook signature (a known vector)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.alerts import budgets, webhook
from shared.platform.errors import ApiError


def _refused(body: dict, creating: bool = True) -> str:
    with pytest.raises(ApiError) as raised:
        budgets.validate_fields(body, creating=creating)
    assert raised.value.code == "INVALID_REQUEST"
    return raised.value.message


def test_a_budget_gets_the_default_metric_provider_and_thresholds():
    fields = budgets.validate_fields({"name": "LLM", "currency": "USD", "amount": "1500.00"}, creating=True)
    assert fields == {
        "name": "LLM",
        "provider": None,
        "currency": "USD",
        "amount": "1500.00",
        "metric": "EffectiveCost",
        "thresholds": [
            {"percent": 50, "basis": "actual"},
            {"percent": 80, "basis": "actual"},
            {"percent": 100, "basis": "actual"},
            {"percent": 100, "basis": "forecast"},
        ],
    }


def test_bad_budget_fields_name_the_field():
    base = {"name": "x", "currency": "USD", "amount": "10"}
    assert _refused({**base, "amount": 10}).startswith("amount:")  # a JSON number went through a float
    assert _refused({**base, "amount": "0"}).startswith("amount:")
    assert _refused({**base, "amount": "1.0000000001"}).startswith("amount:")
    assert _refused({**base, "currency": "usd"}).startswith("currency:")
    assert _refused({**base, "metric": "ListCost"}).startswith("metric:")
    assert _refused({**base, "colour": "red"}).startswith("colour:")
    assert _refused({"name": "x", "currency": "USD"}).startswith("amount: required")
    twice = [{"percent": 80, "basis": "actual"}, {"percent": 80}]
    assert "twice" in _refused({**base, "thresholds": twice})
    assert _refused({**base, "thresholds": [{"percent": 80.5}]}).startswith("thresholds:")
    assert _refused({}, creating=False).startswith("body:")


def test_a_change_validates_only_what_it_names():
    assert budgets.validate_fields({"amount": "20.5"}, creating=False) == {"amount": "20.5"}


def test_webhook_urls_are_https_except_loopback_locally():
    assert webhook.validate_webhook({"url": "https://hooks.example.com/x"}, local=False) == (
        "https://hooks.example.com/x",
        None,
    )
    assert webhook.validate_webhook({"url": "http://127.0.0.1:9/x"}, local=True)[0] == "http://127.0.0.1:9/x"
    for url in ("http://127.0.0.1:9/x", "http://hooks.example.com", "https://u:p@example.com", "ftp://x"):
        with pytest.raises(ApiError):
            webhook.validate_webhook({"url": url}, local=False)
    with pytest.raises(ApiError, match="secret"):
        webhook.validate_webhook({"url": "https://example.com", "secret": "short"}, local=False)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    # Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test_secret_0123456789
    expected = "v1=10fb0e5eb2c2204d471e7d252958fb5af663638b8d24fc8dc03090a74bcc366c"
    assert webhook.signature("whsec_test_secret_0123456789", 1700000000, b'{"a":1}') == expected
    headers = webhook.signed_headers(
        "whsec_test_secret_0123456789", b'{"a":1}', "alr_1", datetime.fromtimestamp(1700000000, UTC)
    )
    assert headers[webhook.SIGNATURE_HEADER] == expected
    assert (headers[webhook.TIMESTAMP_HEADER], headers[webhook.ALERT_ID_HEADER]) == ("1700000000", "alr_1")
