"""Keeps the chat path working when the cache server is down (the `cache` row of the
failure table): reads become misses and writes are skipped, so callers read the database.

While the cache is down, writes and deletes that reach the database are not mirrored into
it; to avoid serving stale entries afterwards, the first successful contact after an
outage clears this cache's keys before anything is read from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from morgan.components import ComponentHealth
from morgan.storage.cache.base import Cache, CacheUnavailable, JsonHelpers

log = structlog.get_logger(__name__)


class ResilientCache(JsonHelpers):
    def __init__(
        self,
        inner: Cache,
        *,
        retry_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.retry_interval_s = retry_interval_s
        self._clock = clock
        self._outage: str | None = None
        self._next_try_at = 0.0

    @property
    def degraded(self) -> bool:
        return self._outage is not None

    async def get(self, key: str) -> bytes | None:
        if not await self._usable():
            return None
        try:
            return await self.inner.get(key)
        except CacheUnavailable as exc:
            self._lost(exc)
            return None

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        if not await self._usable():
            return
        try:
            await self.inner.set(key, value, ttl_s)
        except CacheUnavailable as exc:
            self._lost(exc)

    async def delete(self, key: str) -> None:
        if not await self._usable():
            return  # the clear on recovery removes it
        try:
            await self.inner.delete(key)
        except CacheUnavailable as exc:
            self._lost(exc)

    async def clear(self) -> None:
        try:
            await self.inner.clear()
        except CacheUnavailable as exc:
            self._lost(exc)

    async def health(self) -> ComponentHealth:
        inner = await self.inner.health()
        if inner.state == "up" and await self._usable(force=True):
            return inner
        reason = self._outage or inner.detail
        return ComponentHealth(
            name="cache",
            backend=self.backend,
            state="degraded",
            detail=f"cache unavailable, reading the database instead: {reason}",
        )

    async def close(self) -> None:
        await self.inner.close()

    async def _usable(self, *, force: bool = False) -> bool:
        """True when the inner cache can be used; after an outage, clear it first.

        While it is down, it is retried at most every `retry_interval_s`, so an unreachable
        server does not add a connect timeout to every request.
        """
        if self._outage is None:
            return True
        if not force and self._clock() < self._next_try_at:
            return False
        try:
            await self.inner.clear()
        except CacheUnavailable as exc:
            self._lost(exc)
            return False
        log.info("cache_recovered", backend=self.backend)
        self._outage = None
        return True

    def _lost(self, exc: CacheUnavailable) -> None:
        if self._outage is None:
            log.warning("cache_unavailable_using_database", backend=self.backend, error=str(exc))
        self._outage = str(exc)
        self._next_try_at = self._clock() + self.retry_interval_s
