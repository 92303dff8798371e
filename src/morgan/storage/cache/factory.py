"""Pick a cache from one settings URL (`MORGAN_CACHE_URL`)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from morgan.storage.cache.base import Cache
from morgan.storage.cache.memory import MemoryCache
from morgan.storage.cache.redis import DEFAULT_PREFIX, RedisCache


def build_cache(url: str) -> Cache:
    """`memory://?max_items=N`, or `redis://[:password@]host:port/db[?prefix=morgan:]`
    (also `rediss://` and `unix://`; other query options go to redis-py)."""
    parts = urlsplit(url)
    if parts.scheme == "memory":
        query = dict(parse_qsl(parts.query))
        unknown = set(query) - {"max_items"}
        if unknown or parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"cache URL {url!r}: expected memory://?max_items=N")
        try:
            max_items = int(query.get("max_items", "10000"))
        except ValueError:
            raise ValueError(f"cache URL {url!r}: max_items must be an integer") from None
        return MemoryCache(max_items=max_items)

    if parts.scheme in ("redis", "rediss", "unix"):
        options = parse_qsl(parts.query, keep_blank_values=True)
        prefixes = [value for name, value in options if name == "prefix"]
        rest = [(name, value) for name, value in options if name != "prefix"]
        redis_url = urlunsplit(parts._replace(query=urlencode(rest)))
        return RedisCache(redis_url, prefix=prefixes[-1] if prefixes else DEFAULT_PREFIX)

    raise ValueError(f"cache URL {url!r}: scheme must be memory:// or redis://")
