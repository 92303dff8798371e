"""`morgan.http_failures.classify`: one row per httpx failure and status every client maps."""

from __future__ import annotations

import socket

import httpx
import pytest

from morgan.http_failures import HttpFailure, classify

F = HttpFailure
REQUEST = httpx.Request("GET", "http://127.0.0.1/")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("refused"), F.UNREACHABLE),
        (httpx.ConnectTimeout("slow connect"), F.CONNECT_TIMEOUT),
        (httpx.PoolTimeout("no free connection"), F.CONNECT_TIMEOUT),
        (httpx.ReadTimeout("slow answer"), F.TIMEOUT),
        (httpx.WriteTimeout("slow upload"), F.TIMEOUT),
        (httpx.RemoteProtocolError("closed early"), F.PROTOCOL),
        (httpx.ReadError("reset"), F.NETWORK),
        (httpx.WriteError("broken pipe"), F.NETWORK),
        (httpx.LocalProtocolError("bad request line"), F.NETWORK),
        (httpx.ProxyError("proxy refused"), F.NETWORK),
        (httpx.UnsupportedProtocol("ftp://"), F.NETWORK),
        (httpx.TooManyRedirects("loop", request=REQUEST), F.FAILED),
        (httpx.DecodingError("bad gzip", request=REQUEST), F.FAILED),
    ],
)
def test_each_httpx_exception_has_one_meaning(error: httpx.HTTPError, expected: F) -> None:
    assert classify(error) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, None),
        (204, None),
        (302, None),  # not followed: still an answer, as before
        (400, F.REJECTED),
        (401, F.AUTH),
        (403, F.FORBIDDEN),
        (404, F.REJECTED),
        (405, F.UNEXPECTED),
        (409, F.REJECTED),
        (410, F.UNEXPECTED),
        (413, F.REJECTED),
        (422, F.REJECTED),
        (429, F.RATE_LIMITED),
        (500, F.SERVER),
        (502, F.SERVER),
        (503, F.UNAVAILABLE),
        (504, F.SERVER),
    ],
)
def test_each_status_has_one_meaning(status: int, expected: F | None) -> None:
    assert classify(status) is expected


@pytest.mark.parametrize(
    ("prop", "members"),
    [
        ("before_sending", {F.UNREACHABLE, F.CONNECT_TIMEOUT}),
        ("timed_out", {F.CONNECT_TIMEOUT, F.TIMEOUT}),
        ("transport", {F.UNREACHABLE, F.PROTOCOL, F.NETWORK}),
        ("busy", {F.RATE_LIMITED, F.UNAVAILABLE}),
        ("server_side", {F.UNAVAILABLE, F.SERVER}),
    ],
)
def test_the_groups_callers_branch_on(prop: str, members: set[F]) -> None:
    assert {f for f in F if getattr(f, prop)} == members


def test_a_real_refused_connection_is_unreachable() -> None:
    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(httpx.HTTPError) as caught:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=5.0)
    assert classify(caught.value) is F.UNREACHABLE
