"""Bounded concurrency for the expensive routes (chat, ingest): a semaphore with a short queue.

Beyond `limit` running and `queue` waiting, a request is refused at once with 503 and
`Retry-After`, instead of queueing until a database pool or model times out and the client
sees a 500 half a minute later.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from morgan.errors import Overloaded, TooManyRequests


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


class SlidingWindow:
    """At most `limit` events per key in the last `window_s` seconds (one process's count)."""

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:
                self._events.pop(next(iter(self._events)))
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may act again, or None when it is under the limit."""
        if self.limit <= 0:
            return None
        now = time.monotonic()
        events = self._recent(key, now)
        if len(events) < self.limit:
            return None
        return max(1, math.ceil(events[0] + self.window_s - now))

    def record(self, key: str) -> None:
        self._recent(key, time.monotonic()).append(time.monotonic())

    def take(self, key: str, what: str) -> None:
        """Count one event for `key`, or raise 429 + Retry-After when it is over the limit."""
        wait = self.retry_after(key)
        if wait is not None:
            raise TooManyRequests(
                f"{what}: more than {self.limit} per {self.window_s:g} s; retry in {wait} s",
                retry_after=wait,
            )
        self.record(key)


def caller_key(scope: Scope) -> str:
    """The bearer token's hash when there is one (per token), else the client address."""
    headers = dict(scope.get("headers") or [])
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "t:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    client = scope.get("client") or ("unknown", 0)
    return f"ip:{client[0]}"


def rate_limit_middleware(limits: Mapping[tuple[str, str], SlidingWindow]) -> Any:
    """Per-token request limits on the routes that cost the most (chat, ingest)."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            route = (scope.get("method", ""), scope.get("path", ""))
            window = limits.get(route)  # type: ignore[arg-type]
            if window is not None and scope["type"] == "http":
                window.take(caller_key(scope), f"{route[0]} {route[1]}")
            await app(scope, receive, send)

        return middleware

    return factory
