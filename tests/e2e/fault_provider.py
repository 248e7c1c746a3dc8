"""A provider stand-in whose faults a test scripts per path; every request not scripted is proxied to the sandbox."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx

from tests.kit.secrets import echo_forms


@dataclass(frozen=True)
class Fault:
    """One scripted answer: `kind` is status, reset, hang, truncated, not_json or call."""

    kind: str
    status: int = 200
    # "{key}" is replaced by the credential the request carried (a provider echoing it back), "{key_upper}" etc. by
    # its other forms (tests.kit.secrets.echo_forms).
    body: str = ""
    headers: dict = field(default_factory=dict)
    seconds: float = 0.0
    action: Callable[[], None] | None = None


def status(code: int, message: str = "scripted failure", **headers) -> Fault:
    """Answer `code` with an OpenAI-shaped error body (and headers, e.g. Retry_After="3" for Retry-After)."""
    body = json.dumps({"error": {"message": message, "type": "scripted", "code": None}})
    return Fault("status", code, body, {k.replace("_", "-"): v for k, v in headers.items()})


def text(code: int, body: str) -> Fault:
    """Answer `code` with a plain-text body."""
    return Fault("not_json", code, body)


RESET = Fault("reset")  # read the request, then close with a TCP RST: "connection reset by peer"
TRUNCATED = Fault("truncated")  # 200 announcing more bytes than it sends, then close
NOT_JSON = Fault("not_json", 200, "<html><body><h1>502 Bad Gateway</h1></body></html>")


def hang(seconds: float) -> Fault:
    """Send nothing for `seconds` (past the client's read timeout), then proxy as usual."""
    return Fault("hang", seconds=seconds)


def call(action: Callable[[], None]) -> Fault:
    """Run `action()` (e.g. stop a stand-in) before answering, then proxy as usual: a fault elsewhere, timed to
    the moment the worker is between two steps."""
    return Fault("call", action=action)


class FaultProvider:
    """A real HTTP server on loopback. `script(path, faults)` answers the next requests to `path` with `faults`
    in order (the last one forever with `repeat=True`); then the fault clears and requests reach `upstream`."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self._lock = threading.Lock()
        self._scripts: dict[str, tuple[list[Fault], bool]] = {}
        self.hits: Counter[str] = Counter()
        self.echoed: list[str] = []  # bodies that echoed the caller's credential
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                provider._answer(self)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # resets and abandoned hangs end in socket errors on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def script(self, path: str, faults: list[Fault], *, repeat: bool = False) -> None:
        """Answer the next requests to `path` with `faults`; replaces any script left for it."""
        with self._lock:
            self._scripts[path] = (list(faults), repeat)

    def clear(self) -> None:
        """Forget every script and count."""
        with self._lock:
            self._scripts.clear()
            self.hits.clear()
            self.echoed.clear()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            self.hits[path] += 1
            faults, repeat = self._scripts.get(path, ([], False))
            if not faults:
                return None
            return faults[0] if repeat and len(faults) == 1 else faults.pop(0)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        fault = self._next_fault(path)
        if fault is None or fault.kind in ("hang", "call"):
            if fault and fault.kind == "hang":
                time.sleep(fault.seconds)  # the client has given up by now; whatever follows goes nowhere
            if fault and fault.action:
                fault.action()
            return self._proxy(handler)
        if fault.kind == "reset":
            # SO_LINGER 0: close() sends RST instead of FIN, exactly what a crashed load balancer does.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
            handler.close_connection = True
            return None
        if fault.kind == "truncated":
            body = b'{"object": "page", "data": [{"object": "bucket", "start_time": 17'
            return self._send(handler, 200, body, {"Content-Type": "application/json"}, length=len(body) * 4)
        key = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        body = fault.body
        for name, form in echo_forms(key).items():
            # Inside a JSON body the form is escaped once more, so the decoded message carries the form itself.
            form = json.dumps(form)[1:-1] if fault.kind == "status" else form
            body = body.replace("{" + name + "}", form)
        if "{key" in fault.body:
            with self._lock:
                self.echoed.append(body)
        kind = "application/json" if fault.kind == "status" else "text/html"
        return self._send(handler, fault.status, body.encode(), {"Content-Type": kind, **fault.headers})

    def _proxy(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k: v for k, v in handler.headers.items() if k.lower() in ("authorization", "x-api-key")}
        headers.update({k: v for k, v in handler.headers.items() if k.lower().startswith("anthropic-")})
        upstream = httpx.get(self.upstream + handler.path, headers=headers, timeout=30)
        kind = upstream.headers.get("Content-Type", "application/json")
        self._send(handler, upstream.status_code, upstream.content, {"Content-Type": kind})

    @staticmethod
    def _send(handler, code: int, body: bytes, headers: dict, length: int | None = None) -> None:
        try:
            handler.send_response(code)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body) if length is None else length))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass  # the client already gave up (a read timeout): nothing to deliver
