"""Unit tests of shared.providers.kit.egress: which provider base URLs a credential may point the pipeline at."""

from __future__ import annotations

import pytest

from shared.platform.errors import TerminalError
from shared.platform.settings import settings_from_env
from shared.providers.kit.egress import host_matches, resolve_base_url

BASE_ENV = {"GCP_PROJECT_ID": "p", "KMS_KEY_NAME": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}
LOCAL = settings_from_env({**BASE_ENV, "ENVIRONMENT": "local"})
PROD = settings_from_env(
    {
        **BASE_ENV,
        "ENVIRONMENT": "prod",
        "CA_ROOT_API_KEY": "r" * 32,
        "API_KEY_PEPPER": "p" * 32,
        "PROVIDER_ALLOWED_HOSTS": "gateway.corp.example, *.proxy.example.com",
    }
)
DEFAULT = "https://api.openai.com"
OFFICIAL = ("api.openai.com",)  # the OpenAI provider's own host


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("https://api.openai.com", "https://api.openai.com"),
        ("https://api.openai.com/", "https://api.openai.com"),
        ("https://API.OpenAI.com:443", "https://api.openai.com"),
        ("https://gateway.corp.example/openai/v1-proxy/", "https://gateway.corp.example/openai/v1-proxy"),
        ("https://eu.proxy.example.com", "https://eu.proxy.example.com"),
        ("https://a.b.proxy.example.com", "https://a.b.proxy.example.com"),
    ],
)
def test_allowed_outside_local(candidate, expected):
    assert resolve_base_url(candidate, DEFAULT, PROD, OFFICIAL) == expected


@pytest.mark.parametrize(
    "candidate",
    [
        "http://169.254.169.254",  # the metadata server: credentials of the function's service account
        "https://169.254.169.254",
        "http://10.0.0.1",
        "https://10.0.0.1",
        "https://[::1]",
        "https://2130706433",  # 127.0.0.1 as one decimal number
        "https://0x7f.0x0.0x0.0x1",
        "https://evil.com",
        "http://api.openai.com",  # plain http outside local
        "https://api.openai.com@evil.com",  # userinfo: the host is evil.com
        "https://user:pass@api.openai.com",
        "https://evil.com#@api.openai.com",
        "https://evil.com?@api.openai.com",
        "https://evil.com\\@api.openai.com",
        "https://api.openai.com.evil.com",
        "https://evilapi.openai.com",
        "https://api.openai.com.",
        "https://proxy.example.com",  # a wildcard entry covers subdomains, not the apex
        "https://notproxy.example.com",
        "https://api.openai.com/../admin",
        "https://api.openai.com//evil.com",
        "https://api.openai.com/%2e%2e/x",
        "https://api.openai.com/v1?x=1",
        "https://api.openai.com:99999",
        "https://api.openai.com:8443",  # 443 only outside local: another port is another service
        "https://eu.proxy.example.com:8443",
        "https://api.openai.com:80",
        "https://api.openai.com:0",
        "https://[api.openai.com]",
        " https://api.openai.com",
        "https://api.openai.com\n",
        "ftp://api.openai.com",
        "file:///etc/passwd",
        "//api.openai.com",
        "api.openai.com",
        "",
        "http://127.0.0.1:9012",  # loopback is for the local environment only
        "http://localhost:9012",
    ],
)
def test_denied_outside_local(candidate):
    with pytest.raises(TerminalError) as caught:
        resolve_base_url(candidate, DEFAULT, PROD, OFFICIAL)
    assert caught.value.code == "BASE_URL_NOT_ALLOWED"
    assert "api.openai.com" in caught.value.message  # it says what is allowed


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("http://127.0.0.1:9012", "http://127.0.0.1:9012"),
        ("http://localhost:9012/", "http://localhost:9012"),
        ("http://[::1]:9012", "http://[::1]:9012"),
        ("https://localhost", "https://localhost"),
        ("http://127.0.0.1:80/sandbox", "http://127.0.0.1/sandbox"),
        ("https://localhost:8443", "https://localhost:8443"),  # any port in local: the stack's own
    ],
)
def test_loopback_allowed_in_local(candidate, expected):
    assert resolve_base_url(candidate, DEFAULT, LOCAL, OFFICIAL) == expected


@pytest.mark.parametrize(
    "candidate",
    [
        "https://api.openai.com",  # local never calls out: the sandbox is on loopback
        "http://169.254.169.254",
        "http://10.0.0.1",
        "https://evil.com",
        "http://127.0.0.2:9012",
        "http://user@127.0.0.1:9012",
        "http://localhost.evil.com",
        "http://127.0.0.1.nip.io",
    ],
)
def test_only_loopback_in_local(candidate):
    with pytest.raises(TerminalError) as caught:
        resolve_base_url(candidate, DEFAULT, LOCAL, OFFICIAL)
    assert caught.value.code == "BASE_URL_NOT_ALLOWED"
    assert "127.0.0.1" in caught.value.message


def test_no_candidate_means_the_operators_default():
    assert resolve_base_url(None, "https://api.openai.com/", PROD) == "https://api.openai.com"
    assert resolve_base_url(None, "http://127.0.0.1:9012", LOCAL) == "http://127.0.0.1:9012"


def test_message_never_echoes_the_candidate():
    with pytest.raises(TerminalError) as caught:
        resolve_base_url("https://user:hunter2@evil.com", DEFAULT, PROD, OFFICIAL)
    assert "hunter2" not in caught.value.message


def test_a_providers_own_host_is_allowed_for_it_only():
    from shared.providers.anthropic import PROVIDER as ANTHROPIC
    from shared.providers.kit.egress import provider_base_url
    from shared.providers.openai import PROVIDER as OPENAI

    anthropic = {"base_url": "https://api.anthropic.com"}
    assert provider_base_url(ANTHROPIC, anthropic, PROD) == "https://api.anthropic.com"
    with pytest.raises(TerminalError) as caught:  # an OpenAI credential has no business calling Anthropic
        provider_base_url(OPENAI, anthropic, PROD)
    assert caught.value.code == "BASE_URL_NOT_ALLOWED"
    assert provider_base_url(OPENAI, {}, PROD) == "https://api.openai.com"


def test_the_operators_base_url_replaces_the_official_one():
    env = {**BASE_ENV, "ENVIRONMENT": "local", "OPENAI_API_BASE_URL": "http://127.0.0.1:9012/"}
    from shared.providers.kit.egress import provider_base_url
    from shared.providers.openai import PROVIDER as OPENAI

    assert provider_base_url(OPENAI, {}, settings_from_env(env)) == "http://127.0.0.1:9012"


def test_wildcard_matching():
    assert host_matches("a.proxy.example.com", "*.proxy.example.com")
    assert not host_matches("proxy.example.com", "*.proxy.example.com")
    assert not host_matches("xproxy.example.com", "*.proxy.example.com")
    assert host_matches("gateway.corp.example", "Gateway.Corp.Example")
