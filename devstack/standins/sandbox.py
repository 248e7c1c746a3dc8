"""The provider sandbox: one loopback HTTP server standing in for every HTTP provider's API, each answering the
path prefix its local half declares (OpenAI `/v1/organization/`, Anthropic `/v1/organizations/`)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# (path, query, headers) -> (status, JSON body): a provider sandbox's answer to one GET.
Answer = Callable[[str, dict[str, list[str]], Mapping[str, str]], tuple[int, dict]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs; needs Content-Length on every answer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        answer = next((a for prefix, a in self.server.routes if parts.path.startswith(prefix)), None)
        if answer is None:
            status, body = 404, {"error": {"message": f"no sandbox serves {parts.path}", "type": "not_found"}}
        else:
            status, body = answer(parts.path, parse_qs(parts.query), self.headers)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        pass  # quiet: tests and the demo stack read their own logs


class SandboxServer(ThreadingHTTPServer):
    """The sandbox HTTP server over `routes` ((path prefix, answer), first match wins); `shutdown()` also
    releases the port."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], routes: list[tuple[str, Answer]]):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.routes = list(routes)
        super().__init__(address, _Handler)

    def shutdown(self) -> None:
        """Stop serve_forever (from another thread) and release the port."""
        super().shutdown()
        self.server_close()


def start_sandbox(host: str, port: int, routes: list[tuple[str, Answer]]) -> tuple[SandboxServer, int]:
    """Serve the sandbox on a daemon thread; port 0 picks a free port. Returns (server, bound port)."""
    server = SandboxServer((host, port), routes)
    threading.Thread(target=server.serve_forever, name="provider-sandbox", daemon=True).start()
    return server, server.server_address[1]
