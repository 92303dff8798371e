"""The in-process sliding window: one process's count (and the shared limiter's fallback)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class LocalRateLimiter:
    backend = "memory"
    degraded = False

    def __init__(
        self,
        name: str,
        limit: int,
        window_s: float = 60.0,
        *,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:  # bounded memory: forget the oldest key
                self._events.pop(next(iter(self._events)))
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def _wait(self, events: deque[float], now: float) -> int | None:
        if self.limit <= 0 or len(events) < self.limit:
            return None
        return max(1, math.ceil(events[0] + self.window_s - now))

    async def acquire(self, key: str) -> int | None:
        now = self._clock()
        events = self._recent(key, now)
        wait = self._wait(events, now)
        if wait is None:
            events.append(now)
        return wait

    async def retry_after(self, key: str) -> int | None:
        now = self._clock()
        return self._wait(self._recent(key, now), now)

    async def record(self, key: str) -> None:
        now = self._clock()
        self._recent(key, now).append(now)
