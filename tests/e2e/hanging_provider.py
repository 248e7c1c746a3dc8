"""A provider stand-in that holds every request open until released, so runs stay RUNNING during a test."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HangingProvider:
    """Answers nothing until `release()`, then 401 (a terminal error, so held runs end quickly)."""

    def __init__(self):
        self.released = threading.Event()
        released = self.released

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                released.wait(timeout=120)
                body = b'{"error": {"message": "key revoked", "type": "invalid_request_error"}}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        """Let every held request (and later ones) answer."""
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
