"""A Redis-backed cache shared by every server replica.

Keys carry a prefix so several deployments (or test runs) can share one Redis. Connection
failures and timeouts surface as `CacheUnavailable`; `ResilientCache` turns them into misses.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from morgan.components import ComponentHealth
from morgan.storage.cache.base import CacheError, CacheUnavailable, JsonHelpers

DEFAULT_PREFIX = "morgan:"


class RedisCache(JsonHelpers):
    backend = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = DEFAULT_PREFIX,
        *,
        socket_timeout_s: float = 2.0,
        connect_timeout_s: float = 2.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            health_check_interval=30,
        )

    def full_key(self, key: str) -> str:
        """The key as stored in Redis."""
        return f"{self.prefix}{key}"

    async def get(self, key: str) -> bytes | None:
        with _translate_errors():
            value = await self._redis.get(self.full_key(key))
        return None if value is None else bytes(value)  # type: ignore[arg-type]

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"cache values are bytes, not {type(value).__name__}")
        with _translate_errors():
            if ttl_s is None:
                await self._redis.set(self.full_key(key), bytes(value))
            elif ttl_s <= 0:
                await self._redis.delete(self.full_key(key))
            else:
                ttl_ms = max(1, math.ceil(ttl_s * 1000))
                await self._redis.set(self.full_key(key), bytes(value), px=ttl_ms)

    async def delete(self, key: str) -> None:
        with _translate_errors():
            await self._redis.delete(self.full_key(key))

    async def clear(self) -> None:
        if not self.prefix:
            raise CacheError("refusing to clear a Redis cache without a key prefix")
        pattern = _escape_glob(self.prefix) + "*"
        with _translate_errors():
            batch: list[bytes] = []
            async for name in self._redis.scan_iter(match=pattern, count=500):
                batch.append(name)
                if len(batch) >= 500:
                    await self._redis.unlink(*batch)
                    batch.clear()
            if batch:
                await self._redis.unlink(*batch)

    async def health(self) -> ComponentHealth:
        where = _redact(self.url)
        try:
            with _translate_errors():
                await self._redis.ping()
        except CacheError as exc:
            return ComponentHealth(
                name="cache", backend=self.backend, state="down", detail=f"{where}: {exc}"
            )
        return ComponentHealth(name="cache", backend=self.backend, state="up", detail=where)

    async def close(self) -> None:
        await self._redis.aclose()


@contextlib.contextmanager
def _translate_errors() -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise CacheUnavailable(f"redis unavailable: {exc}") from exc
    except RedisError as exc:
        raise CacheError(f"redis error: {exc}") from exc


def _escape_glob(text: str) -> str:
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in text)


def _redact(url: str) -> str:
    """The URL without its password, for status pages and logs."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    userinfo, _, host = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user + ':***' if user else '***'}@{host}"
