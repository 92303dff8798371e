"""The vector index, connected when it can be: a slow or absent dependency must not stop start-up.

A collection needs the embedding dimension, which a remote embedder (Ollama) only tells on its
first answer, and a Qdrant server that answers. Until both hold, every call raises
`VectorIndexUnavailable` (retrieval then searches by keyword and reports `vectors`), health says
why, and a background task keeps trying with backoff; a call made once the dimension is known
also tries at once, so the first ingest after Ollama comes up creates the collection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from morgan.components import ComponentHealth
from morgan.storage.vectors import (
    EmbeddingDimensionUnknown,
    VectorIndexLocked,
    VectorIndexUnavailable,
)

log = structlog.get_logger(__name__)

RETRY_DELAYS_S: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0)


class LazyVectorIndex:
    """Wraps the index built by `build(dimension)`; transparent once connected."""

    def __init__(
        self,
        build: Callable[[int], Any],
        embedder: Any,
        *,
        backend: str,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        self._build = build
        self._embedder = embedder
        self._index: Any = None
        self._connected = False
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._retry_delays_s = tuple(retry_delays_s) or RETRY_DELAYS_S
        self.backend = backend
        self.last_error = "not connected yet"

    @property
    def dimension(self) -> int:
        return int(self._index.dimension if self._connected else self._embedder.dimension)

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self, *, probe_embedder: bool = True) -> bool:
        """One attempt; True once the collection exists. Never raises for a dependency."""
        if self._connected:
            return True
        async with self._lock:
            if self._connected:
                return True
            try:
                dimension = await self._dimension(probe=probe_embedder)
                if self._index is None:
                    self._index = self._build(dimension)
                await self._index.ensure_collection()
            except VectorIndexLocked:
                raise  # another process owns the embedded folder: a setup error, not a blip
            except Exception as exc:  # noqa: BLE001 - any failure: stay unconnected, retry
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("vectors_not_connected", backend=self.backend, error=self.last_error)
                return False
            self._connected = True
            log.info("vectors_connected", backend=self.backend, dimension=dimension)
            return True

    async def _dimension(self, *, probe: bool) -> int:
        try:
            return int(self._embedder.dimension)
        except EmbeddingDimensionUnknown:
            if not probe:
                raise
        warm = getattr(self._embedder, "warm_up_primary", None) or getattr(
            self._embedder, "warm_up", None
        )
        if warm is not None and asyncio.iscoroutinefunction(warm):
            await warm()
        return int(self._embedder.dimension)

    def start(self) -> None:
        """Keep trying in the background until connected (no-op once connected)."""
        if self._connected or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.create_task(self._retry_forever())

    async def _retry_forever(self) -> None:
        attempt = 0
        while not await self.connect():
            delay = self._retry_delays_s[min(attempt, len(self._retry_delays_s) - 1)]
            attempt += 1
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
                return  # closing
            except TimeoutError:
                continue

    async def _ready_index(self) -> Any:
        if not self._connected and not self._lock.locked():
            # Only cheap tries on the request path: no embedder probe, the task does those.
            await self.connect(probe_embedder=False)
        if not self._connected:
            raise VectorIndexUnavailable(f"vector index not connected: {self.last_error}")
        return self._index

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._connected:
            return getattr(self._index, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            index = await self._ready_index()
            return await getattr(index, name)(*args, **kwargs)

        return call

    async def health(self) -> ComponentHealth:
        if self._connected:
            return await self._index.health()
        return ComponentHealth("vectors", self.backend, "down", f"connecting: {self.last_error}")

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._index is not None:
            await self._index.close()
