"""State every replica must agree on (rate-limit counters, token revocations), kept in the
cluster's Redis: the one named by `MORGAN_CACHE_URL`. With `memory://` there is none and each
process keeps its own.

The keys live under `shared:<cache prefix>`, outside the cache's own prefix, because the
cache clears its prefix after an outage (it may hold stale copies then) and these keys are
not copies of anything. Redis being unreachable is never an error for a caller: `lost()`
marks it down, callers use their in-process fallback, and it is retried at most every
`retry_interval_s` so a dead server does not add a connect timeout to every request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from morgan.storage.cache import RedisCache, build_cache

log = structlog.get_logger(__name__)

REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)
"""What a call to Redis raises when Redis is down, slow or refuses: all mean 'use the fallback'."""

NAMESPACE = "shared:"


class SharedRedis:
    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        timeout_s: float = 0.5,
        retry_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.namespace = NAMESPACE + prefix
        self.retry_interval_s = retry_interval_s
        self._clock = clock
        self._outage: str | None = None
        self._next_try_at = 0.0
        self.client = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    @classmethod
    def from_cache_url(cls, cache_url: str, **options: float) -> SharedRedis | None:
        """The Redis of a `redis://` cache URL (same server, prefix), or None for `memory://`."""
        if not cache_url.startswith(("redis", "unix")):
            return None
        cache = build_cache(cache_url)  # one parser for the URL and its `prefix` option
        if not isinstance(cache, RedisCache):
            return None
        return cls(cache.url, cache.prefix, **options)  # type: ignore[arg-type]

    def key(self, *parts: str) -> str:
        return self.namespace + ":".join(parts)

    @property
    def degraded(self) -> bool:
        return self._outage is not None

    def usable(self) -> bool:
        """False while Redis is known to be down and not yet due for another try."""
        return self._outage is None or self._clock() >= self._next_try_at

    def lost(self, exc: BaseException) -> None:
        if self._outage is None:
            log.warning("shared_state_redis_unavailable_using_local", error=str(exc)[:200])
        self._outage = str(exc)[:200] or type(exc).__name__
        self._next_try_at = self._clock() + self.retry_interval_s

    def ok(self) -> None:
        if self._outage is not None:
            log.info("shared_state_redis_recovered")
            self._outage = None

    async def close(self) -> None:
        await self.client.aclose()
