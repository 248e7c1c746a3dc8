"""A real HTTP server that answers every request with one fault class: the seam where an object-storage source's
SDK (boto3, azure-storage-blob) meets a failing service, since those SDKs bring their own HTTP stack."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from tests.kit.recorded import RETRY_AFTER_SECONDS

# Storage services answer errors in XML (S3: <Error><Code>; Blob Storage the same, plus x-ms-error-code).
_ERRORS = {
    "429 with Retry-After": (429, "SlowDown", "Please reduce your request rate."),
    "5xx": (503, "ServiceUnavailable", "The server is busy."),
    "401": (401, "InvalidAccessKeyId", "The credentials presented are not valid."),
    "403": (403, "AccessDenied", "This identity may not read the export."),
}


class FaultServer:
    """Serve one fault class on a free loopback port until stopped; `hold_seconds` is how long a "timeout" keeps
    the request unanswered (longer than the client's timeout). Use as a context manager."""

    def __init__(self, fault: str, hold_seconds: float = 5.0):
        if fault not in (*_ERRORS, "timeout", "truncated body"):
            raise ValueError(f"unknown fault {fault!r}")
        self.fault, self.hold_seconds, self.requests = fault, hold_seconds, 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll: shutdown() waits for the loop's next look (0.5 s by default, per test).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet: the test reads the client's error
                pass

            def _answer(self) -> None:
                server.requests += 1
                if server.fault == "timeout":
                    time.sleep(server.hold_seconds)
                    self.close_connection = True
                    return
                if server.fault == "truncated body":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b"<?xml version")  # then the connection closes, 990 bytes short
                    self.close_connection = True
                    return
                status, code, message = _ERRORS[server.fault]
                body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}"
                body = (body + "</Message></Error>").encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-ms-error-code", code)
                if status == 429:
                    self.send_header("Retry-After", str(RETRY_AFTER_SECONDS))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
