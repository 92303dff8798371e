"""Per-caller request budgets (chat, ingest, failed authentications): at most `limit` events
per key in a sliding `window_s`, beyond which the caller gets 429 + `Retry-After`.

Two implementations of one contract: `LocalRateLimiter` counts in this process (the embedded
default, `memory://` cache); `RedisRateLimiter` counts in the cluster's Redis so every replica
enforces one budget together, and falls back to its own local count while Redis is down.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from morgan.errors import TooManyRequests
from morgan.ratelimit.local import LocalRateLimiter
from morgan.ratelimit.redis import RedisRateLimiter, build_rate_limiter


@runtime_checkable
class RateLimiter(Protocol):
    name: str
    limit: int
    """Events per window; 0 or less = unlimited."""
    window_s: float

    @property
    def degraded(self) -> bool:
        """True while a shared limiter counts locally because its Redis is unreachable."""
        ...

    async def acquire(self, key: str) -> int | None:
        """Count one event for `key` and return None, or, when it is over the limit, count
        nothing and return the seconds until it may act again."""
        ...

    async def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may act again, or None when it is under the limit (counts nothing)."""
        ...

    async def record(self, key: str) -> None:
        """Count one event whatever the limit (a failed authentication already happened)."""
        ...


async def take(limiter: RateLimiter, key: str, what: str) -> None:
    """Count one event for `key`, or raise 429 + Retry-After when it is over the limit."""
    wait = await limiter.acquire(key)
    if wait is not None:
        raise TooManyRequests(
            f"{what}: more than {limiter.limit} per {limiter.window_s:g} s; retry in {wait} s",
            retry_after=wait,
        )


__all__ = ["LocalRateLimiter", "RateLimiter", "RedisRateLimiter", "build_rate_limiter", "take"]
