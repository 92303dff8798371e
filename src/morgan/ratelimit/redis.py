"""The cluster's sliding window in Redis: every replica counts against one budget per key.

One sorted set per (limiter, key) holds the event times of the last window; a Lua script
trims, counts and adds atomically, so two replicas can never both take the last slot. The
times come from the callers' wall clocks (replicas run NTP; a skew of milliseconds does not
matter against a one-minute window), which also lets tests move a fake clock.

While Redis is unreachable the limiter counts in this process instead (each replica then
allows the full budget on its own) and never fails the request; every allowed event is also
counted locally while Redis is up, so the fallback starts from this process's real history.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from itertools import count

from morgan.ratelimit.local import LocalRateLimiter
from morgan.shared_state import REDIS_ERRORS, SharedRedis

# KEYS[1] the set; ARGV: now_ms, window_ms, limit, member, mode ("acquire" | "check" | "record").
# Returns 0 when under the limit (and counted unless "check"), else the milliseconds to wait.
_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[5] ~= 'record' and limit > 0 then
  if redis.call('ZCARD', KEYS[1]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + window - now)
  end
end
if ARGV[5] ~= 'check' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
end
return 0
"""


class RedisRateLimiter:
    backend = "redis"

    def __init__(
        self,
        shared: SharedRedis,
        name: str,
        limit: int,
        window_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.time,
        fallback: LocalRateLimiter | None = None,
    ) -> None:
        self.shared = shared
        self.name = name
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self.fallback = fallback or LocalRateLimiter(name, limit, window_s)
        self._script = shared.client.register_script(_SCRIPT)
        self._ids = count()
        self._process = uuid.uuid4().hex[:12]

    @property
    def degraded(self) -> bool:
        return self.shared.degraded

    async def _run(self, key: str, mode: str) -> int | None:
        """Milliseconds to wait (> 0), 0 when under the limit, None when Redis is down."""
        if self.limit <= 0:
            return 0  # unlimited: nothing to count, nothing to ask Redis
        if not self.shared.usable():
            return None
        now_ms = int(self._clock() * 1000)
        member = f"{now_ms}:{self._process}:{next(self._ids)}"
        try:
            result = await self._script(
                keys=[self.shared.key("rl", self.name, key)],
                args=[now_ms, max(1, int(self.window_s * 1000)), self.limit, member, mode],
            )
        except REDIS_ERRORS as exc:
            self.shared.lost(exc)
            return None
        self.shared.ok()
        return int(result)

    async def acquire(self, key: str) -> int | None:
        waited = await self._run(key, "acquire")
        if waited is None:
            return await self.fallback.acquire(key)
        if waited:
            return max(1, math.ceil(waited / 1000))
        await self.fallback.record(key)
        return None

    async def retry_after(self, key: str) -> int | None:
        waited = await self._run(key, "check")
        if waited is None:
            return await self.fallback.retry_after(key)
        return max(1, math.ceil(waited / 1000)) if waited else None

    async def record(self, key: str) -> None:
        await self._run(key, "record")
        await self.fallback.record(key)


def build_rate_limiter(
    name: str, limit: int, shared: SharedRedis | None, window_s: float = 60.0
) -> LocalRateLimiter | RedisRateLimiter:
    """Shared through Redis when the server has one (the cluster), else this process's count."""
    if shared is None:
        return LocalRateLimiter(name, limit, window_s)
    return RedisRateLimiter(shared, name, limit, window_s)
