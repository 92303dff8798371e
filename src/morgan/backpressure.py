"""Bounded concurrency for the expensive routes (chat, ingest): a semaphore with a short queue.

Beyond `limit` running and `queue` waiting, a request is refused at once with 503 and
`Retry-After`, instead of queueing until a database pool or model times out and the client
sees a 500 half a minute later.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from morgan.errors import Overloaded
from morgan.ratelimit import RateLimiter, take


class ConcurrencyGate:
    def __init__(self, name: str, *, limit: int, queue: int, retry_after_s: int = 2) -> None:
        self.name = name
        self.limit = max(1, limit)
        self.queue = max(0, queue)
        self.retry_after_s = retry_after_s
        self.active = 0
        self.waiting = 0
        self._semaphore = asyncio.Semaphore(self.limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.active >= self.limit and self.waiting >= self.queue:
            raise Overloaded(
                f"{self.name}: {self.active} running and {self.waiting} waiting; try again shortly",
                retry_after=self.retry_after_s,
            )
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._semaphore.release()


def gate_middleware(gates: Mapping[tuple[str, str], ConcurrencyGate]) -> Any:
    """Holds a slot of the gate for (method, path) for the whole response, streams included."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            gate = gates.get((scope.get("method", ""), scope.get("path", "")))  # type: ignore[arg-type]
            if gate is None or scope["type"] != "http":
                await app(scope, receive, send)
                return
            async with gate.slot():
                await app(scope, receive, send)

        return middleware

    return factory


def caller_key(scope: Scope) -> str:
    """The bearer token's hash when there is one (per token), else the client address."""
    headers = dict(scope.get("headers") or [])
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "t:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    client = scope.get("client") or ("unknown", 0)
    return f"ip:{client[0]}"


def rate_limit_middleware(limits: Mapping[tuple[str, str], RateLimiter]) -> Any:
    """Per-token request limits on the routes that cost the most (chat, ingest); each limiter
    is shared by every replica through Redis in the cluster (morgan.ratelimit)."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            route = (scope.get("method", ""), scope.get("path", ""))
            limiter = limits.get(route)  # type: ignore[arg-type]
            if limiter is not None and scope["type"] == "http":
                await take(limiter, caller_key(scope), f"{route[0]} {route[1]}")
            await app(scope, receive, send)

        return middleware

    return factory
