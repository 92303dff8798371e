"""Short-lived copies of database data: in-process LRU or Redis, optionally wrapped so an
unreachable Redis turns into misses instead of errors."""

from morgan.storage.cache.base import Cache, CacheError, CacheUnavailable
from morgan.storage.cache.factory import build_cache
from morgan.storage.cache.memory import MemoryCache
from morgan.storage.cache.redis import RedisCache
from morgan.storage.cache.resilient import ResilientCache

__all__ = [
    "Cache",
    "CacheError",
    "CacheUnavailable",
    "MemoryCache",
    "RedisCache",
    "ResilientCache",
    "build_cache",
]
