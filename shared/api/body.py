"""The request body, read once up front: within the size cap and the read deadlines, or refused."""

from __future__ import annotations

import io
import socket
import threading

from werkzeug.wrappers import Request

from shared.platform.errors import ApiError

MAX_BODY_BYTES = 16 * 1024
# An instance serves each request on one of a few threads (8 on 2 cores) and a body read blocks its thread, so
# a client that announces a body and then stalls must be cut off: every API body fits in one TCP segment or a few,
# sent at once by any real client, so 2 s of silence or 5 s in all mean a stalled or hostile client.
IDLE_SECONDS = 2.0
TOTAL_SECONDS = 5.0
_STEP = 4096


def read_body(request: Request) -> bytes:
    """The body (b"" if none): 413 over the cap (refused by Content-Length before anything is read), 408 when
    the client is too slow. Afterwards the request's stream holds only these bytes, so nothing after this (such
    as functions-framework's after-request hook, which reads the whole body) reads from the client again."""
    try:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise _too_large()
        raw = _read(request) if _has_body(request) else b""
    except ApiError:
        stop_reading(request)
        raise
    request.stream = io.BytesIO(raw)
    return raw


def stop_reading(request: Request) -> None:
    """Leave the client's unread body unread: an empty stream for the framework, and the connection's read side
    shut so the server closes it after the answer instead of waiting for the rest."""
    request.stream = io.BytesIO(b"")
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RD)
        except OSError:  # already closed by the client: nothing left to stop
            pass


def check_json_content_type(request: Request, raw: bytes) -> None:
    """415 unless a request that carries a body declares it JSON (application/json, in UTF-8 if a charset)."""
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if raw and (request.mimetype != "application/json" or charset not in ("utf-8", "utf8")):
        raise ApiError(
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the body as JSON with the header Content-Type: application/json (charset utf-8 if any).",
        )


def _too_large() -> ApiError:
    return ApiError("PAYLOAD_TOO_LARGE", f"The body may be at most {MAX_BODY_BYTES} bytes.")


def _too_slow() -> ApiError:
    return ApiError(
        "REQUEST_TIMEOUT",
        f"The body did not arrive within {TOTAL_SECONDS:g} s (or paused {IDLE_SECONDS:g} s).",
    )


def _has_body(request: Request) -> bool:
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return chunked or bool(request.content_length)


def _read(request: Request) -> bytes:
    """At most cap + 1 bytes of the body, each pause under IDLE_SECONDS and all of it within TOTAL_SECONDS."""
    sock = request.environ.get("gunicorn.socket")
    if sock is None:  # not served by gunicorn (a test client): an in-memory body has no client to wait for
        return _read_capped(request.stream)
    previous = sock.gettimeout()
    deadline = _Deadline(sock)
    sock.settimeout(IDLE_SECONDS)  # a pause between bytes: recv raises TimeoutError
    try:
        raw = _read_capped(request.stream)
    except TimeoutError:
        raise _too_slow() from None
    except ApiError:
        raise
    except Exception as exc:  # the server's parser: a malformed chunk, or the client left mid-body
        if deadline.finish():
            raise _too_slow() from None
        raise ApiError("INVALID_REQUEST", "body: incomplete or malformed (check its framing)") from exc
    finally:
        expired = deadline.finish()
        sock.settimeout(previous)
    if expired:  # the watchdog ended the read: what arrived is only part of the body
        raise _too_slow()
    return raw


def _read_capped(stream) -> bytes:
    """Read until the body ends or is over the cap (never more than cap + 1 bytes); 413 if over."""
    parts, size = [], 0
    while size <= MAX_BODY_BYTES:
        part = stream.read(min(_STEP, MAX_BODY_BYTES + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > MAX_BODY_BYTES:
        raise _too_large()
    return b"".join(parts)


class _Deadline:
    """A watchdog that ends a body read at TOTAL_SECONDS by shutting the socket's read side (a blocked recv then
    returns), which a pause-by-pause socket timeout alone cannot bound."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._lock = threading.Lock()
        self._finished = False
        self._expired = False
        self._timer = threading.Timer(TOTAL_SECONDS, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:  # never after finish(): the connection may be serving its next request by then
            if self._finished:
                return
            self._expired = True
            try:
                self._sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def finish(self) -> bool:
        """Stop the watchdog; True if it had already ended the read."""
        with self._lock:
            self._finished = True
        self._timer.cancel()
        return self._expired
