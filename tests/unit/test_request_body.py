"""The request body read up front: the cap (never reading past it), the JSON media type, one read only."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from shared.api.body import MAX_BODY_BYTES, check_json_content_type, read_body
from shared.platform.errors import ApiError


class EndlessStream(io.RawIOBase):
    """A body that never ends; counts what was read of it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        buffer[:] = b" " * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


def _request(body: bytes = b"", content_type: str | None = "application/json", **environ) -> Request:
    built = EnvironBuilder(method="POST", path="/x", data=body, content_type=content_type).get_environ()
    built.update(environ)
    return Request(built)


def test_the_body_is_read_once_and_left_for_no_one_else():
    request = _request(b'{"date": "2025-11-25"}')
    assert read_body(request) == b'{"date": "2025-11-25"}'
    assert request.get_data() == b'{"date": "2025-11-25"}'  # the handlers' copy; nothing from the client


def test_an_announced_body_over_the_cap_is_refused_unread():
    endless = EndlessStream()
    request = _request(CONTENT_LENGTH=str(300 * 1024 * 1024), **{"wsgi.input": endless})
    with pytest.raises(ApiError) as caught:
        read_body(request)
    assert caught.value.code == "PAYLOAD_TOO_LARGE" and endless.read_bytes == 0
    assert request.get_data() == b""


def test_a_chunked_body_is_read_no_further_than_one_byte_past_the_cap():
    endless = EndlessStream()
    chunked = {"wsgi.input": endless, "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
    request = _request(**chunked)
    request.environ.pop("CONTENT_LENGTH", None)
    with pytest.raises(ApiError) as caught:
        read_body(request)
    assert caught.value.code == "PAYLOAD_TOO_LARGE" and endless.read_bytes == MAX_BODY_BYTES + 1


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_must_be_declared_json(content_type):
    request = _request(b"{}", content_type)
    with pytest.raises(ApiError) as caught:
        check_json_content_type(request, read_body(request))
    assert caught.value.status == 415 and "application/json" in caught.value.message


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8"])
def test_json_with_or_without_a_charset_passes(content_type):
    request = _request(b"{}", content_type)
    check_json_content_type(request, read_body(request))


def test_an_empty_body_needs_no_content_type():
    request = _request(b"", None)
    check_json_content_type(request, read_body(request))
