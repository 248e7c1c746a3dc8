"""Egress at connection time: a provider host is resolved once, every address checked, and the checked one dialled.

Why here and not only when a `base_url` is stored: a name can resolve to a public address at onboarding and to
10.x, 127.0.0.1 or the metadata server (169.254.169.254) when a run connects (DNS rebinding). So the check runs on
the addresses the socket is about to use, not on an earlier lookup.

Why an httpcore network backend: httpx 0.28 builds its connections in httpcore, whose `ConnectionPool` takes a
`network_backend` with one `connect_tcp(host, port, ...)` call per new connection. Our backend resolves `host`,
refuses the connection unless every address is public, and connects the socket to the checked address. httpcore
still does TLS with `server_hostname` = the URL's host and httpx sends the URL's Host header, so SNI, certificate
verification and virtual hosting stay on the name. The alternatives were worse: rewriting the URL to the IP breaks
TLS verification (and needs the SNI extension patched back), and a resolver check before the request leaves a
second lookup inside the socket call for the rebinding to win. httpx's `HTTPTransport` has no argument for the
backend, so `guarded_transport` swaps its pool for one that has it (`tests/unit/test_address_guard.py` notices if a
new httpx version moves it).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpcore
import httpx

from shared.platform.errors import TerminalError

Resolver = Callable[[str, int], list[str]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 addresses embedded in IPv6 by a NAT64 gateway


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (IPv4 and IPv6), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _why_not_public(address: str) -> str | None:
    """Why an address is no place for provider traffic (loopback, private, ...), or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") says nothing more
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None:
            return _why_not_public(str(embedded))
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local (the metadata server lives there)"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.ip_network("fc00::/7"), "unique-local"),
        (ip.is_private, "private"),
        (not ip.is_global, "not globally routable"),
    )
    return next((why for hit, why in checks if hit), None)


def checked_addresses(host: str, port: int, resolve: Resolver) -> list[str]:
    """The addresses `host` resolves to, all public; TerminalError BASE_URL_NOT_ALLOWED naming the host and the
    first address that is not (one bad address refuses the name: the socket could pick any of them)."""
    addresses = resolve(host, port)
    if not addresses:
        raise TerminalError("BASE_URL_NOT_ALLOWED", f"host {host!r} resolves to no address")
    for address in addresses:
        why = _why_not_public(address)
        if why:
            raise TerminalError(
                "BASE_URL_NOT_ALLOWED",
                f"host {host!r} resolves to {address}, a {why} address: provider traffic only goes to public "
                "addresses (checked when connecting, so a name that changes its answer is caught too).",
            )
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that dials only checked public addresses of the requested host."""

    def __init__(self, resolve: Resolver = system_resolver, inner: httpcore.NetworkBackend | None = None):
        self._resolve = resolve
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve `host` once, refuse unless every address is public, then connect to them in turn."""
        failure: Exception | None = None
        for address in checked_addresses(host, port, self._resolve):
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error  # as socket.create_connection does: the next address may answer
        assert failure is not None
        raise failure

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guarded_transport(resolve: Resolver = system_resolver, inner: httpcore.NetworkBackend | None = None):
    """An httpx transport whose new connections go through GuardedBackend (TLS verified for the URL's host)."""
    transport = httpx.HTTPTransport()
    pool = transport._pool
    transport._pool = httpcore.ConnectionPool(
        ssl_context=pool._ssl_context, network_backend=GuardedBackend(resolve, inner)
    )
    return transport
