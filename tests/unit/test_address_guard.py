"""Unit tests of shared.providers.kit.address_guard: provider connections go only to checked public addresses."""

from __future__ import annotations

from datetime import date

import httpcore
import httpx
import pytest

from shared.platform.errors import TerminalError
from shared.providers.kit.address_guard import GuardedBackend, guarded_transport
from shared.providers.kit.http import paged_data
from tests.kit.steps import PROD_ENV, offline_settings, step_context

DAY = date(2025, 11, 3)
PUBLIC = "162.159.140.245"  # an address api.openai.com has answered with


class Dialled(Exception):
    """Raised by the fake network where a real one would open a socket: the test stops there."""


class FakeNetwork(httpcore.NetworkBackend):
    """Records which address was dialled and which name TLS would verify; never touches the network."""

    def __init__(self):
        self.dialled: list[tuple[str, int]] = []
        self.tls_names: list[str | None] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.dialled.append((host, port))
        network = self

        class Stream(httpcore.NetworkStream):
            def start_tls(self, ssl_context, server_hostname=None, timeout=None):
                network.tls_names.append(server_hostname)
                raise Dialled(server_hostname)

            def close(self):
                pass

        return Stream()


def _resolver(*addresses: str):
    asked = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return list(addresses)

    return resolve, asked


def _get(resolve, network: FakeNetwork) -> None:
    with httpx.Client(transport=guarded_transport(resolve, network)) as client:
        client.get("https://api.openai.com/v1/organization/costs", timeout=5)


@pytest.mark.parametrize(
    ("addresses", "shown", "why"),
    [
        (["10.0.0.5"], "10.0.0.5", "private"),
        (["127.0.0.1"], "127.0.0.1", "loopback"),
        (["169.254.169.254"], "169.254.169.254", "link-local"),
        (["::1"], "::1", "loopback"),
        (["fd00::1"], "fd00::1", "unique-local"),
        ([PUBLIC, "10.1.2.3"], "10.1.2.3", "private"),  # one bad answer refuses the name
        (["::ffff:10.0.0.5"], "::ffff:10.0.0.5", "private"),
        (["0.0.0.0"], "0.0.0.0", "unspecified"),
        (["224.0.0.1"], "224.0.0.1", "multicast"),
        (["100.64.0.1"], "100.64.0.1", "not globally routable"),
    ],
)
def test_a_name_resolving_to_a_non_public_address_is_refused_before_dialling(addresses, shown, why):
    resolve, asked = _resolver(*addresses)
    network = FakeNetwork()
    with pytest.raises(TerminalError) as caught:
        _get(resolve, network)
    assert caught.value.code == "BASE_URL_NOT_ALLOWED"
    assert "'api.openai.com'" in caught.value.message and shown in caught.value.message
    assert why in caught.value.message
    assert asked == [("api.openai.com", 443)] and network.dialled == []


def test_a_public_name_is_dialled_at_its_checked_address_and_tls_verifies_the_name():
    resolve, _ = _resolver(PUBLIC)
    network = FakeNetwork()
    with pytest.raises(Dialled):  # the fake stops where TLS would start
        _get(resolve, network)
    assert network.dialled == [(PUBLIC, 443)]
    assert network.tls_names == ["api.openai.com"]


def test_each_new_connection_resolves_again():
    # DNS rebinding: the first answer was public, the next one is not; the second connection must be refused.
    answers = [[PUBLIC], ["10.0.0.5"]]
    backend = GuardedBackend(lambda host, port: answers.pop(0), FakeNetwork())
    backend.connect_tcp("api.openai.com", 443)
    with pytest.raises(TerminalError, match="10.0.0.5"):
        backend.connect_tcp("api.openai.com", 443)


def test_the_transport_really_uses_the_guarded_backend():
    # guarded_transport swaps httpx's private pool; a new httpx that moves it must fail here, not silently.
    transport = guarded_transport()
    assert isinstance(transport._pool._network_backend, GuardedBackend)


def test_a_step_outside_local_connects_through_the_guard():
    # No transport injected: the real one. "localhost" resolves (from /etc/hosts) to loopback, which is refused
    # before any socket opens; in the local environment the same call goes on to connect (the stack's sandbox).
    ctx = step_context("openai", DAY, DAY, "sk-x", settings=offline_settings(PROD_ENV))
    with pytest.raises(TerminalError) as caught:
        list(paged_data(ctx, "https://localhost/v1/organization/costs", [], {}, max_attempts=1))
    assert caught.value.code == "BASE_URL_NOT_ALLOWED" and "loopback" in caught.value.message
