"""The cache interface: bytes by key with an optional time to live.

A cache only ever holds copies of data that lives elsewhere (the database), so every
caller treats a miss, an expiry or an unavailable cache the same way: read the source.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, overload, runtime_checkable

import msgspec

from morgan.components import ComponentHealth

T = TypeVar("T")


class CacheError(Exception):
    """Base class for cache failures."""


class CacheUnavailable(CacheError):
    """The cache server cannot be reached; callers fall back to the database."""


@runtime_checkable
class Cache(Protocol):
    backend: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Store `value`; `ttl_s=None` keeps it until evicted, `ttl_s<=0` removes it."""
        ...

    async def delete(self, key: str) -> None: ...

    async def clear(self) -> None:
        """Remove every key this cache owns (its prefix), nothing else."""
        ...

    @overload
    async def get_json(self, key: str) -> Any: ...

    @overload
    async def get_json(self, key: str, type: type[T]) -> T | None: ...

    async def get_json(self, key: str, type: Any = Any) -> Any:
        """Decode a msgspec-JSON value as `type`; a miss or an undecodable value gives None."""
        ...

    async def set_json(self, key: str, value: object, ttl_s: float | None = None) -> None: ...

    async def health(self) -> ComponentHealth: ...

    async def close(self) -> None: ...


class JsonHelpers:
    """`get_json`/`set_json` on top of `get`/`set`, shared by every implementation.

    A value that no longer decodes as `type` (the struct changed between releases) counts
    as a miss, so a deploy never needs a cache flush.
    """

    async def get(self, key: str) -> bytes | None:
        raise NotImplementedError

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        raise NotImplementedError

    @overload
    async def get_json(self, key: str) -> Any: ...

    @overload
    async def get_json(self, key: str, type: type[T]) -> T | None: ...

    async def get_json(self, key: str, type: Any = Any) -> Any:
        raw = await self.get(key)
        if raw is None:
            return None
        try:
            return msgspec.json.decode(raw, type=type)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None

    async def set_json(self, key: str, value: object, ttl_s: float | None = None) -> None:
        await self.set(key, msgspec.json.encode(value), ttl_s)
