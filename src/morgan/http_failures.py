"""What an httpx failure means, decided in one place for every HTTP client Morgan has.

The LLM clients (`llm._http`), the reranker client, the cluster client, the CLI and the TUI
each turn a failed call into their own error (`LLMUnavailable`, `RerankerUnavailable`,
`ClusterAccessError`, `CLIError` with an exit code). Which exceptions mean "nothing
listened", "no answer in time" or "the connection broke", and which statuses mean "bad
token", "wrong request" or "come back later", is `classify`'s table; callers only pick their
words and their error type. It is not `morgan.errors.as_morgan_error`: that maps storage
failures to server responses, and this module must stay importable by the CLI without the
server (Litestar).
"""

from __future__ import annotations

from enum import StrEnum
from typing import overload

import httpx


class HttpFailure(StrEnum):
    UNREACHABLE = "unreachable"
    """Nothing answered: connection refused, unknown host (`ConnectError`)."""
    CONNECT_TIMEOUT = "connect_timeout"
    """No connection in time (`ConnectTimeout`, `PoolTimeout`); nothing was sent."""
    TIMEOUT = "timeout"
    """Sent, but no answer (or no more of it) in time (`ReadTimeout`, `WriteTimeout`)."""
    PROTOCOL = "protocol"
    """The server broke the exchange: closed early, spoke no HTTP (`RemoteProtocolError`)."""
    NETWORK = "network"
    """Any other transport failure: reset, proxy, unsupported scheme (`TransportError`)."""
    FAILED = "failed"
    """Any other httpx error: too many redirects, undecodable body."""
    AUTH = "auth"
    """401: the token is missing or wrong."""
    FORBIDDEN = "forbidden"
    """403: the token is fine but may not do this."""
    REJECTED = "rejected"
    """400, 404, 409, 413, 422: the request is wrong; sending it again will not help."""
    RATE_LIMITED = "rate_limited"
    """429: too many requests; `Retry-After` says when to come back."""
    UNAVAILABLE = "unavailable"
    """503: at capacity or a dependency is down; `Retry-After` says when to come back."""
    SERVER = "server"
    """Any other 5xx: the server failed."""
    UNEXPECTED = "unexpected"
    """Any other status from 400 up (405, 410, 415, ...)."""

    @property
    def before_sending(self) -> bool:
        """No connection was made, so nothing was sent: always safe to try again."""
        return self in (HttpFailure.UNREACHABLE, HttpFailure.CONNECT_TIMEOUT)

    @property
    def timed_out(self) -> bool:
        return self in (HttpFailure.CONNECT_TIMEOUT, HttpFailure.TIMEOUT)

    @property
    def transport(self) -> bool:
        """The connection failed (as opposed to a timeout or an answer with an error status)."""
        return self in (HttpFailure.UNREACHABLE, HttpFailure.PROTOCOL, HttpFailure.NETWORK)

    @property
    def busy(self) -> bool:
        """The server asks to come back later (429, 503)."""
        return self in (HttpFailure.RATE_LIMITED, HttpFailure.UNAVAILABLE)

    @property
    def server_side(self) -> bool:
        """A 5xx: the server, not the request, failed; a retry may succeed."""
        return self in (HttpFailure.UNAVAILABLE, HttpFailure.SERVER)


_REJECTED = frozenset({400, 404, 409, 413, 422})


@overload
def classify(failure: httpx.HTTPError) -> HttpFailure: ...


@overload
def classify(failure: int) -> HttpFailure | None: ...


def classify(failure: httpx.HTTPError | int) -> HttpFailure | None:
    """What an httpx exception or a response status means; None for a status below 400."""
    if isinstance(failure, int):
        return _status(failure)
    if isinstance(failure, httpx.ConnectTimeout | httpx.PoolTimeout):
        return HttpFailure.CONNECT_TIMEOUT
    if isinstance(failure, httpx.TimeoutException):
        return HttpFailure.TIMEOUT
    if isinstance(failure, httpx.ConnectError):
        return HttpFailure.UNREACHABLE
    if isinstance(failure, httpx.RemoteProtocolError):
        return HttpFailure.PROTOCOL
    if isinstance(failure, httpx.TransportError):
        return HttpFailure.NETWORK
    return HttpFailure.FAILED


def _status(status: int) -> HttpFailure | None:
    if status < 400:
        return None
    if status == 401:
        return HttpFailure.AUTH
    if status == 403:
        return HttpFailure.FORBIDDEN
    if status in _REJECTED:
        return HttpFailure.REJECTED
    if status == 429:
        return HttpFailure.RATE_LIMITED
    if status == 503:
        return HttpFailure.UNAVAILABLE
    if status >= 500:
        return HttpFailure.SERVER
    return HttpFailure.UNEXPECTED
