"""One contract for every RateLimiter: in-process, Redis (the real local server, a key prefix
of the test's own), and Redis unreachable (the fallback must keep the same promises); then what
only the shared one adds: one budget across processes, atomic under contention, and a Redis
that stops and comes back mid-run."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from morgan.errors import TooManyRequests
from morgan.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter, take
from morgan.shared_state import SharedRedis
from tests.fixtures.own_redis import RedisServer, redis_url  # noqa: F401  (fixture)

LIMIT = 3
WINDOW_S = 60.0


class FakeClock:
    """Wall and monotonic time at once, moving only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Subject:
    make: object  # (limit) -> RateLimiter
    clock: FakeClock
    unreachable: bool = False

    def limiter(self, limit: int = LIMIT, name: str = "chat") -> RateLimiter:
        return self.make(limit, name)  # type: ignore[operator, no-any-return]


def _shared(url: str, prefix: str, clock: FakeClock) -> SharedRedis:
    return SharedRedis(url, prefix, clock=clock)


def _redis_limiter(shared: SharedRedis, clock: FakeClock, limit: int, name: str) -> RateLimiter:
    fallback = LocalRateLimiter(name, limit, WINDOW_S, clock=clock)
    return RedisRateLimiter(shared, name, limit, WINDOW_S, clock=clock, fallback=fallback)


async def _drop_prefix(url: str, namespace: str) -> None:
    raw = aioredis.Redis.from_url(url)
    try:
        names = [n async for n in raw.scan_iter(match=namespace + "*")]
        if names:
            await raw.delete(*names)
    finally:
        await raw.aclose()


@pytest.fixture
def closed_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture(
    params=[
        "local",
        pytest.param("redis", marks=pytest.mark.redis),
        "redis-unreachable",
    ]
)
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    clock = FakeClock()
    if request.param == "local":
        yield Subject(
            lambda limit, name: LocalRateLimiter(name, limit, WINDOW_S, clock=clock), clock
        )
        return
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
    else:
        url = f"redis://127.0.0.1:{request.getfixturevalue('closed_port')}/0"
    shared = _shared(url, f"morgan-test-{uuid.uuid4().hex}:", clock)
    unreachable = request.param == "redis-unreachable"
    yield Subject(
        lambda limit, name: _redis_limiter(shared, clock, limit, name), clock, unreachable
    )
    if not unreachable:
        await _drop_prefix(url, shared.namespace)
    await shared.close()


async def test_allows_the_limit_then_refuses_with_a_wait(subject: Subject) -> None:
    limiter = subject.limiter()
    assert isinstance(limiter, RateLimiter)
    for _ in range(LIMIT):
        assert await limiter.acquire("t:a") is None
    wait = await limiter.acquire("t:a")
    assert wait is not None and 0 < wait <= WINDOW_S
    assert limiter.degraded is subject.unreachable  # a fallback says so
    with pytest.raises(TooManyRequests) as refused:
        await take(limiter, "t:a", "POST /api/chat")
    assert 0 < refused.value.extra["retry_after"] <= WINDOW_S


async def test_keys_and_limiters_have_budgets_of_their_own(subject: Subject) -> None:
    chat, ingest = subject.limiter(name="chat"), subject.limiter(name="ingest")
    for _ in range(LIMIT):
        assert await chat.acquire("t:a") is None
    assert await chat.acquire("t:a") is not None
    assert await chat.acquire("t:b") is None
    assert await ingest.acquire("t:a") is None


async def test_the_window_slides_and_refusals_do_not_count(subject: Subject) -> None:
    limiter = subject.limiter()
    assert await limiter.acquire("k") is None
    subject.clock.advance(30)
    assert await limiter.acquire("k") is None
    assert await limiter.acquire("k") is None
    for _ in range(5):  # refused: counted nowhere
        assert await limiter.acquire("k") is not None
    wait = await limiter.retry_after("k")
    assert wait == 30  # the first event leaves the window 30 s from now
    subject.clock.advance(30.001)
    assert await limiter.retry_after("k") is None
    assert await limiter.acquire("k") is None  # one slot freed, not six
    assert await limiter.acquire("k") is not None


async def test_retry_after_counts_nothing_and_record_counts_always(subject: Subject) -> None:
    limiter = subject.limiter()
    for _ in range(10):
        assert await limiter.retry_after("ip:1") is None
    for _ in range(LIMIT + 2):
        await limiter.record("ip:1")  # failed authentications happened, limit or not
    assert await limiter.retry_after("ip:1") is not None
    assert await limiter.acquire("ip:1") is not None


async def test_a_limit_of_zero_is_no_limit(subject: Subject) -> None:
    limiter = subject.limiter(limit=0)
    for _ in range(50):
        assert await limiter.acquire("k") is None
    assert await limiter.retry_after("k") is None


# -- what only the shared limiter adds ------------------------------------------------------


@pytest.mark.redis
async def test_two_processes_share_one_budget_and_cannot_both_take_the_last_slot(
    redis_url: str,
) -> None:
    clock = FakeClock()
    prefix = f"morgan-test-{uuid.uuid4().hex}:"
    one, two = _shared(redis_url, prefix, clock), _shared(redis_url, prefix, clock)
    try:
        a, b = _redis_limiter(one, clock, 5, "chat"), _redis_limiter(two, clock, 5, "chat")
        assert await a.acquire("t:x") is None
        assert await b.acquire("t:x") is None
        results = await asyncio.gather(*(lim.acquire("t:x") for lim in [a, b] * 10))
        assert sum(r is None for r in results) == 3  # 5 in all, whoever asked
        assert await a.retry_after("t:x") is not None and await b.retry_after("t:x") is not None
        ttl_ms = await one.client.pttl(one.key("rl", "chat", "t:x"))
        assert 0 < ttl_ms <= WINDOW_S * 1000  # Redis forgets an idle key by itself
    finally:
        await _drop_prefix(redis_url, one.namespace)
        await one.close()
        await two.close()


@pytest.mark.redis
async def test_redis_stopping_mid_run_falls_back_to_the_local_count_and_comes_back(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    clock = FakeClock()
    shared = _shared(server.url, "morgan-test:", clock)
    limiter = _redis_limiter(shared, clock, LIMIT, "chat")
    try:
        assert await limiter.acquire("t:a") is None
        assert await limiter.acquire("t:a") is None
        server.stop()
        # Down: no error, the local count (which saw both events) takes over.
        assert await limiter.acquire("t:a") is None
        assert limiter.degraded
        assert await limiter.acquire("t:a") is not None
        assert await limiter.acquire("t:b") is None
        server.start()  # an empty Redis (no persistence), as after a crash
        assert limiter.degraded  # not retried before the interval
        clock.advance(shared.retry_interval_s)
        assert await limiter.acquire("t:c") is None
        assert not limiter.degraded
        assert await shared.client.exists(shared.key("rl", "chat", "t:c")) == 1
    finally:
        await shared.close()
        server.stop()
