"""An in-process LRU cache with per-key expiry: the embedded default.

Every operation is synchronous under the hood and never awaits, so it is safe on one event
loop without locks. The clock is injectable so tests can move time instead of sleeping.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from morgan.components import ComponentHealth
from morgan.storage.cache.base import JsonHelpers


class MemoryCache(JsonHelpers):
    backend = "memory"

    def __init__(self, max_items: int = 10_000, *, clock: Callable[[], float] = time.monotonic):
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self._clock = clock
        self._items: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        value, expires_at = item
        if expires_at is not None and self._clock() >= expires_at:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"cache values are bytes, not {type(value).__name__}")
        if ttl_s is not None and ttl_s <= 0:
            self._items.pop(key, None)
            return
        expires_at = None if ttl_s is None else self._clock() + ttl_s
        self._items[key] = (bytes(value), expires_at)
        self._items.move_to_end(key)
        if len(self._items) > self.max_items:
            self._evict()

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def clear(self) -> None:
        self._items.clear()

    async def health(self) -> ComponentHealth:
        return ComponentHealth(
            name="cache",
            backend=self.backend,
            state="up",
            detail=f"{len(self._items)}/{self.max_items} items",
        )

    async def close(self) -> None:
        self._items.clear()

    def _evict(self) -> None:
        """Drop expired entries first, then the least recently used ones."""
        now = self._clock()
        expired = [k for k, (_, exp) in self._items.items() if exp is not None and now >= exp]
        for key in expired:
            del self._items[key]
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
