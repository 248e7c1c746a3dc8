"""HTTP/1.1 over a raw socket, for requests no client library sends: bodies shorter or longer than announced,
header values in any bytes."""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

TIMEOUT = 60  # generous: a busy 2-core machine; the tests using this measure no time


def connect(
    base_url: str, method: str, path: str, headers: dict[str, str | bytes], body: bytes = b""
) -> socket.socket:
    """A connection that has sent the request line, `headers` (values as given, bytes included) and `body`,
    and nothing more."""
    address = urlsplit(base_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=TIMEOUT)
    head = f"{method} {path} HTTP/1.1\r\nHost: {address.netloc}\r\n".encode()
    for name, value in headers.items():
        head += name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()) + b"\r\n"
    sock.sendall(head + b"\r\n" + body)
    return sock


def answer(sock: socket.socket) -> tuple[int, str, bytes]:
    """The status, content type and body of the one response on `sock`."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.getheader("Content-Type", ""), response.read()


def json_answer(sock: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the one response on `sock` (asserts it is JSON)."""
    status, content_type, body = answer(sock)
    assert content_type.startswith("application/json"), (status, content_type, body[:300])
    return status, json.loads(body)


def request(base_url: str, method: str, path: str, headers: dict[str, str | bytes], body: bytes = b""):
    """Send one request on a new connection; its status, content type and body."""
    with connect(base_url, method, path, headers, body) as sock:
        return answer(sock)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (an end of stream, or a reset); times out otherwise."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True
