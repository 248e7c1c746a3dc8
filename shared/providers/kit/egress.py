"""Egress allow-list: which API base URLs a credential may point an HTTP provider's steps at."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from shared.platform.errors import TerminalError
from shared.platform.settings import Settings

# Outside local, a provider's own API host is always allowed; anything else must be named by the operator.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Characters we accept anywhere in a base URL. Anything else (whitespace, backslashes, percent-escapes,
# non-ASCII) is how parser-differential tricks are built, and a real API base never needs them.
_SAFE_URL = re.compile(r"[A-Za-z0-9._~:/\[\]@-]+")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


def _deny(reason: str, allowed: str) -> TerminalError:
    # Never echo the candidate URL itself: it may carry userinfo (a password) or other secrets.
    return TerminalError("BASE_URL_NOT_ALLOWED", f"base_url rejected: {reason}. Allowed: {allowed}.")


def _allowed_text(settings: Settings, official_hosts: tuple[str, ...]) -> str:
    if settings.is_local:
        return "in the local environment, http:// or https:// to 127.0.0.1, localhost or [::1]"
    hosts = ", ".join(official_hosts + tuple(settings.provider_allowed_hosts))
    return (
        f"https:// on port 443 to one of {hosts} (extend with PROVIDER_ALLOWED_HOSTS); no userinfo, query or "
        "fragment; the host must resolve to public addresses only"
    )


def host_matches(host: str, entry: str) -> bool:
    """True if `host` equals the allow-list `entry`, or is a subdomain of a `*.domain` wildcard entry."""
    entry = entry.strip().lower().rstrip(".")
    if entry.startswith("*."):
        suffix = entry[1:]  # ".example.com": the apex itself is not matched by its wildcard
        return host.endswith(suffix) and len(host) > len(suffix)
    return host == entry


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Forms like "2130706433" or "0x7f.1" are not valid ip_address input but some resolvers treat them
        # as addresses; an all-numeric/hex last label is never a real DNS name, so treat them as IPs too.
        last = host.rsplit(".", 1)[-1]
        return last.isdigit() or bool(re.fullmatch(r"0x[0-9a-f]+", last))
    return True


def _check_host(host: str, settings: Settings, official_hosts: tuple[str, ...], allowed: str) -> None:
    if settings.is_local:
        if host not in LOOPBACK_HOSTS:
            raise _deny(f"host {host!r} is not a loopback host", allowed)
        return
    if _is_ip_literal(host):
        raise _deny("IP-literal hosts are not allowed", allowed)
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise _deny(f"host {host!r} is not a valid DNS name", allowed)
    entries = official_hosts + tuple(settings.provider_allowed_hosts)
    if not any(host_matches(host, entry) for entry in entries):
        raise _deny(f"host {host!r} is not on the allow-list", allowed)


def _normalized_path(path: str, allowed: str) -> str:
    # A gateway may mount the API under a prefix ("/openai"); allow plain segments only, never "." or "..".
    if path in ("", "/"):
        return ""
    segments = path.removesuffix("/").split("/")
    if segments[0] != "" or any(s in (".", "..") or not _PATH_SEGMENT.fullmatch(s) for s in segments[1:]):
        raise _deny("the path must be plain '/'-separated segments", allowed)
    return "/".join(segments)


def resolve_base_url(
    candidate: str | None, default: str, settings: Settings, official_hosts: tuple[str, ...] = ()
) -> str:
    """The API base URL to call: the operator's `default` when `candidate` is None, else the validated candidate
    (a loopback URL in local; else https to one of `official_hosts` or the operator's PROVIDER_ALLOWED_HOSTS)."""
    if candidate is None:
        return default.rstrip("/")  # the operator's own setting is trusted
    allowed = _allowed_text(settings, official_hosts)
    if not isinstance(candidate, str) or not _SAFE_URL.fullmatch(candidate):
        raise _deny("it is not a plain URL (unexpected type or characters)", allowed)
    try:
        parts = urlsplit(candidate)
        host, port = parts.hostname, parts.port
    except ValueError:  # a bad port or a bracketed host that is not an IPv6 address
        raise _deny("the host or port cannot be parsed", allowed) from None
    schemes = ("http", "https") if settings.is_local else ("https",)
    if parts.scheme not in schemes:
        raise _deny(f"scheme {parts.scheme or '(none)'!r} is not allowed", allowed)
    if "@" in parts.netloc:
        raise _deny("userinfo (user:password@) is not allowed", allowed)
    if parts.query or parts.fragment or "?" in candidate or "#" in candidate:
        raise _deny("a query or fragment is not allowed", allowed)
    if not host:
        raise _deny("the URL has no host", allowed)
    if port == 0:
        raise _deny("port 0 is not a port", allowed)
    if not settings.is_local and port not in (None, 443):
        # Only the HTTPS port outside local: another port on an allowed host is another service (an admin
        # console, a database) the allow-list never vetted.
        raise _deny(f"port {port} is not allowed (443 only)", allowed)
    _check_host(host, settings, official_hosts, allowed)
    path = _normalized_path(parts.path, allowed)
    shown_host = f"[{host}]" if ":" in host else host
    default_port = {"http": 80, "https": 443}[parts.scheme]
    netloc = shown_host if port in (None, default_port) else f"{shown_host}:{port}"
    return f"{parts.scheme}://{netloc}{path}"


def provider_base_url(provider, metadata: dict, settings: Settings) -> str:
    """The base URL a run of an HTTP `provider` calls: the credential's `base_url` (checked), else the operator's
    `<NAME>_API_BASE_URL`, else the provider's official API."""
    default = settings.api_base_url(provider.name, provider.source.default_base_url)
    return resolve_base_url(metadata.get("base_url"), default, settings, (provider.source.official_host,))


def check_base_url(
    provider, secret: str, metadata: dict, settings: Settings, org_slug: str | None = None
) -> None:
    """An HTTP provider's credential check: a `base_url` in its metadata must pass the allow-list."""
    if "base_url" in metadata:
        provider_base_url(provider, metadata, settings)
