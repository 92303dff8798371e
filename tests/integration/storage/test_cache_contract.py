"""One contract for every Cache (in-process LRU and real Redis), plus what each adds:
LRU eviction for memory, prefixes and outages for Redis, and the ResilientCache wrapper."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import msgspec
import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from morgan.storage.cache import (
    Cache,
    CacheUnavailable,
    MemoryCache,
    RedisCache,
    ResilientCache,
    build_cache,
)


class FakeClock:
    """A monotonic clock that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class CacheUnderTest:
    cache: Cache
    remaining_ttl_s: Callable[[str], object]  # async: seconds left, None = no expiry, -2 = gone
    clock: FakeClock | None = None
    cleanups: list[Callable[[], object]] = field(default_factory=list)


class Window(msgspec.Struct):
    conversation_id: str
    turns: list[str]
    mood: float | None = None


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        # The production wrapper: the server puts Redis behind ResilientCache.
        pytest.param("resilient-redis", marks=pytest.mark.redis),
    ]
)
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[CacheUnderTest]:
    if request.param == "memory":
        clock = FakeClock()
        cache = MemoryCache(max_items=100, clock=clock)

        async def remaining(key: str) -> float | int | None:
            item = cache._items.get(key)
            if item is None:
                return -2
            return None if item[1] is None else item[1] - clock()

        yield CacheUnderTest(cache, remaining, clock)
        await cache.close()
        return

    url = request.getfixturevalue("redis_url")
    prefix = f"morgan-test:{uuid.uuid4().hex}:"
    cache: Cache = RedisCache(url, prefix=prefix)
    if request.param == "resilient-redis":
        cache = ResilientCache(cache)
    raw = aioredis.Redis.from_url(url)

    async def remaining_redis(key: str) -> float | int | None:
        pttl = await raw.pttl(prefix + key)
        if pttl == -2:
            return -2
        return None if pttl == -1 else pttl / 1000

    yield CacheUnderTest(cache, remaining_redis)
    await cache.clear()
    assert await raw.keys(prefix + "*") == []
    await raw.aclose()
    await cache.close()


# -- the contract ------------------------------------------------------------------------


async def test_round_trip_miss_overwrite_delete(subject: CacheUnderTest) -> None:
    cache = subject.cache
    assert await cache.get("k") is None
    await cache.set("k", b"one")
    assert await cache.get("k") == b"one"
    await cache.set("k", b"two")
    assert await cache.get("k") == b"two"
    await cache.delete("k")
    await cache.delete("k")
    await cache.delete("never-set")
    assert await cache.get("k") is None


async def test_every_byte_value_survives(subject: CacheUnderTest) -> None:
    value = bytes(range(256)) * 64
    await subject.cache.set("binary", value)
    assert await subject.cache.get("binary") == value


async def test_ttl_is_set_and_expires(subject: CacheUnderTest) -> None:
    cache = subject.cache
    await cache.set("short", b"v", ttl_s=10)
    remaining = await subject.remaining_ttl_s("short")
    assert isinstance(remaining, float) and 9.0 < remaining <= 10.0
    assert await cache.get("short") == b"v"
    if subject.clock is not None:
        subject.clock.advance(9.9)
        assert await cache.get("short") == b"v"
        subject.clock.advance(0.2)
        assert await cache.get("short") is None


async def test_sub_second_ttl_keeps_millisecond_precision(subject: CacheUnderTest) -> None:
    await subject.cache.set("blink", b"v", ttl_s=0.25)
    remaining = await subject.remaining_ttl_s("blink")
    assert isinstance(remaining, float) and 0.0 < remaining <= 0.25


async def test_no_ttl_means_no_expiry_and_set_resets_ttl(subject: CacheUnderTest) -> None:
    cache = subject.cache
    await cache.set("k", b"v", ttl_s=5)
    await cache.set("k", b"v2")
    assert await subject.remaining_ttl_s("k") is None
    if subject.clock is not None:
        subject.clock.advance(1e6)
    assert await cache.get("k") == b"v2"


async def test_non_positive_ttl_removes(subject: CacheUnderTest) -> None:
    await subject.cache.set("k", b"v")
    await subject.cache.set("k", b"v2", ttl_s=0)
    assert await subject.cache.get("k") is None
    assert await subject.remaining_ttl_s("k") == -2


async def test_json_helpers(subject: CacheUnderTest) -> None:
    cache = subject.cache
    window = Window("c-1", ["hi", "hello, how are you?"], mood=-0.25)
    await cache.set_json("window", window, ttl_s=60)
    assert await cache.get_json("window", Window) == window
    assert await cache.get_json("window") == {
        "conversation_id": "c-1",
        "turns": ["hi", "hello, how are you?"],
        "mood": -0.25,
    }
    assert await cache.get_json("missing", Window) is None
    await cache.set("garbage", b"\xff not json")
    assert await cache.get_json("garbage") is None
    await cache.set_json("wrong-shape", {"conversation_id": 3})
    assert await cache.get_json("wrong-shape", Window) is None


async def test_values_must_be_bytes(subject: CacheUnderTest) -> None:
    with pytest.raises(TypeError):
        await subject.cache.set("k", "text")  # type: ignore[arg-type]


async def test_clear_removes_everything_it_owns(subject: CacheUnderTest) -> None:
    for index in range(20):
        await subject.cache.set(f"k{index}", b"v")
    await subject.cache.clear()
    assert [await subject.cache.get(f"k{index}") for index in range(20)] == [None] * 20


async def test_health_is_up(subject: CacheUnderTest) -> None:
    health = await subject.cache.health()
    assert (health.name, health.state, health.backend) == ("cache", "up", subject.cache.backend)


# -- memory only ---------------------------------------------------------------------------


async def test_memory_lru_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_items=3, clock=FakeClock())
    for key in ("a", "b", "c"):
        await cache.set(key, key.encode())
    assert await cache.get("a") == b"a"  # a is now the most recent
    await cache.set("d", b"d")
    assert await cache.get("b") is None
    assert [await cache.get(k) for k in ("a", "c", "d")] == [b"a", b"c", b"d"]
    assert len(cache) == 3


async def test_memory_evicts_expired_entries_before_live_ones() -> None:
    clock = FakeClock()
    cache = MemoryCache(max_items=2, clock=clock)
    await cache.set("old-but-live", b"1")
    await cache.set("expiring", b"2", ttl_s=1)
    clock.advance(2)
    await cache.set("new", b"3")
    assert await cache.get("old-but-live") == b"1"
    assert await cache.get("new") == b"3"


# -- redis only ----------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_prefixes_isolate_caches(redis_url: str) -> None:
    first = RedisCache(redis_url, prefix=f"morgan-test:{uuid.uuid4().hex}:")
    second = RedisCache(redis_url, prefix=f"morgan-test:{uuid.uuid4().hex}:")
    try:
        await first.set("same", b"first")
        await second.set("same", b"second")
        await first.clear()
        assert await first.get("same") is None
        assert await second.get("same") == b"second"
    finally:
        await first.clear()
        await second.clear()
        await first.close()
        await second.close()


async def test_unreachable_redis_raises_cache_unavailable(closed_port: int) -> None:
    cache = RedisCache(f"redis://127.0.0.1:{closed_port}/0", prefix="morgan-test:")
    with pytest.raises(CacheUnavailable):
        await cache.get("k")
    with pytest.raises(CacheUnavailable):
        await cache.set("k", b"v", ttl_s=5)
    with pytest.raises(CacheUnavailable):
        await cache.delete("k")
    health = await cache.health()
    assert health.state == "down" and str(closed_port) in health.detail
    await cache.close()


async def test_resilient_cache_turns_an_outage_into_misses(closed_port: int) -> None:
    cache = ResilientCache(RedisCache(f"redis://127.0.0.1:{closed_port}/0", prefix="t:"))
    with capture_logs() as logs:
        assert await cache.get("k") is None
        await cache.set("k", b"v")
        await cache.set_json("j", {"a": 1})
        assert await cache.get_json("j") is None
        await cache.delete("k")
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["event"] == "cache_unavailable_using_database"
    assert cache.degraded
    health = await cache.health()
    assert health.state == "degraded" and "database" in health.detail
    await cache.close()


@pytest.mark.redis
async def test_resilient_cache_recovers_without_serving_stale_entries(private_redis) -> None:
    clock = FakeClock()
    inner = RedisCache(private_redis.url, prefix="morgan:", connect_timeout_s=1)
    cache = ResilientCache(inner, retry_interval_s=5, clock=clock)
    await cache.set("window", b"before the outage")

    private_redis.stop()
    await cache.delete("window")  # the database changed; Redis never heard of it
    assert await cache.get("window") is None
    assert (await cache.health()).state == "degraded"

    private_redis.start()  # a fresh server; bring back the stale entry it would have kept
    await inner.set("window", b"before the outage")
    assert await cache.get("window") is None, "still inside the retry interval: no contact"
    clock.advance(5)
    assert await cache.get("window") is None, "the stale entry must be cleared on recovery"
    assert not cache.degraded
    await cache.set("window", b"fresh")
    assert await cache.get("window") == b"fresh"
    assert (await cache.health()).state == "up"
    await cache.close()


# -- factory --------------------------------------------------------------------------------


def test_build_cache_memory() -> None:
    cache = build_cache("memory://?max_items=7")
    assert isinstance(cache, MemoryCache) and cache.max_items == 7


@pytest.mark.redis
async def test_build_cache_redis(redis_url: str) -> None:
    prefix = f"morgan-test:{uuid.uuid4().hex}:"
    cache = build_cache(f"{redis_url}?prefix={prefix}")
    assert isinstance(cache, RedisCache) and cache.prefix == prefix
    await cache.set("k", b"v")
    raw = aioredis.Redis.from_url(redis_url)
    assert await raw.get(prefix + "k") == b"v"
    await cache.clear()
    await raw.aclose()
    await cache.close()


@pytest.mark.parametrize(
    "url", ["memcached://x", "memory://?max_items=lots", "memory://?size=3", "memory://host"]
)
def test_build_cache_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        build_cache(url)
