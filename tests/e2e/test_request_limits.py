"""Request bodies against the served `api`: slow, huge or endless bodies cannot hold its threads or memory."""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import httpx
import pytest

from tests.kit.rawhttp import TIMEOUT, closed_by_server, connect, json_answer

pytestmark = pytest.mark.stack

RUN_PATH = "/api/v1/pipelines/run/limits_org/openai/cost/usage_cost"
# functions-framework's gunicorn threads (THREADS, else 4 per core): the slow clients below outnumber them.
THREADS = int(os.environ.get("THREADS", (os.cpu_count() or 1) * 4))


def _connect(stack, method: str, path: str, headers: dict[str, str], body: bytes = b""):
    return connect(stack.api_url, method, path, headers, body)


def test_slow_bodies_do_not_hold_the_api(stack):
    """More slow-body clients than threads (GET /health and a run, each announcing 100 bytes and sending 2):
    /health still answers while they are connected, and each gets 408 and a closed connection."""
    announced = {"Content-Length": "100", "Content-Type": "application/json"}
    slow = [_connect(stack, "GET", "/health", announced, b"{}") for _ in range(THREADS // 2 + 1)]
    slow += [_connect(stack, "POST", RUN_PATH, announced, b"{}") for _ in range(THREADS // 2 + 1)]
    try:
        health = httpx.get(stack.api_url + "/health", timeout=TIMEOUT)
        assert health.status_code == 200, health.text
        for sock in slow:
            status, body = json_answer(sock)
            assert (status, body["error"]["code"]) == (408, "REQUEST_TIMEOUT"), body
            assert closed_by_server(sock)
    finally:
        for sock in slow:
            sock.close()


def test_an_announced_huge_body_is_refused_before_it_is_sent(stack):
    """Content-Length: 300 MiB, then only a few bytes: 413 arrives at once (nothing waits for the rest)."""
    headers = {"Content-Length": str(300 * 1024 * 1024), "Content-Type": "application/json"}
    sock = _connect(stack, "POST", RUN_PATH, headers, b'{"date": "' + b" " * 1000)
    try:
        status, body = json_answer(sock)
        assert (status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE"), body
        assert closed_by_server(sock)
    finally:
        sock.close()


def test_an_endless_chunked_body_is_cut_at_the_cap(stack):
    """A chunked body that never ends: 413 arrives while the client is still streaming."""
    headers = {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}
    sock = _connect(stack, "POST", RUN_PATH, headers)
    streaming = threading.Event()
    stop = threading.Event()

    def stream() -> None:
        chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
        try:
            while not stop.is_set():
                sock.sendall(chunk)
                streaming.set()
        except OSError:  # the server closed the connection after its answer
            pass

    sender = threading.Thread(target=stream, daemon=True)
    sender.start()
    try:
        assert streaming.wait(TIMEOUT)
        status, body = json_answer(sock)
        assert (status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE"), body
    finally:
        stop.set()
        with contextlib.suppress(OSError):  # the server may have reset the connection already
            sock.shutdown(socket.SHUT_RDWR)  # wakes a sender blocked on a full buffer
        sender.join(TIMEOUT)
        sock.close()


def _post(stack, path: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(stack.api_url + path, content=content, headers=headers, timeout=TIMEOUT)


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_a_body_must_be_sent_as_json(stack, content_type):
    """A body without Content-Type application/json is 415 UNSUPPORTED_MEDIA_TYPE saying what to send."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = _post(stack, RUN_PATH, b'{"date": "2025-01-01"}', headers)
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["code"] == "UNSUPPORTED_MEDIA_TYPE" and "application/json" in error["message"]


def test_json_with_parameters_and_empty_bodies_need_no_content_type(stack):
    """application/json with a charset passes the media-type check (the key is asked next), and so does a POST
    with no body and no Content-Type (the run route says what it wants; a reap needs no body)."""
    sent_json = _post(
        stack, RUN_PATH, b'{"date": "2025-01-01"}', {"Content-Type": "Application/JSON; charset=utf-8"}
    )
    assert sent_json.status_code == 401 and sent_json.json()["error"]["code"] == "UNAUTHENTICATED"
    empty = httpx.post(stack.api_url + RUN_PATH, timeout=TIMEOUT)
    assert empty.status_code == 401 and empty.json()["error"]["code"] == "UNAUTHENTICATED"
    reap = _post(stack, "/api/v1/admin/reap", b"", {"X-CA-Root-Key": stack.secrets["root_key"]})
    assert reap.status_code == 200, reap.text


def test_duplicate_json_keys_are_refused(stack):
    """{"date": ..., "date": ...} is 422 INVALID_REQUEST naming the key (last-wins would hide a mistake)."""
    body = b'{"org_slug": "limits_org", "pipeline_id": "openai/cost/usage_cost", "date": "2025-01-01", "date": "2025-01-02"}'
    response = _post(
        stack,
        "/api/v1/scheduler/process-queue",
        body,
        {"Content-Type": "application/json", "X-CA-Root-Key": stack.secrets["root_key"]},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST" and "date" in error["message"]
