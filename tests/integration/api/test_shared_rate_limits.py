"""Rate limits in the cluster: two server processes (two apps, same settings) on one
Redis enforce one budget together; Redis stopping mid-run turns them into per-process counts
with `degraded: ["cache"]`, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient

from morgan.app import create_app
from tests.fixtures.own_redis import RedisServer
from tests.integration.api.conftest import Api, api_settings, running_api

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SHARED_REDIS = "redis://127.0.0.1:6379/0"


@asynccontextmanager
async def two_replicas(db_url: str, base: Path, **env: str) -> AsyncIterator[tuple[Api, Api]]:
    """Two servers with the same settings on one database and one Redis; each has a
    MORGAN_HOME of its own, as replicas do (the embedded vector index is one per folder)."""
    first = create_app(api_settings(db_url, base / "one", **env), migrate=True)
    second = create_app(api_settings(db_url, base / "two", **env))
    async with AsyncTestClient(first) as one:
        token = (base / "one" / "token").read_text().strip()
        async with AsyncTestClient(second) as two:
            yield (
                Api(one, first.state.services, token, base / "one"),
                Api(two, second.state.services, token, base / "two"),
            )


async def _drop(prefix: str) -> None:
    raw = aioredis.Redis.from_url(SHARED_REDIS)
    try:
        for pattern in (prefix + "*", "shared:" + prefix + "*"):
            names = [n async for n in raw.scan_iter(match=pattern)]
            if names:
                await raw.delete(*names)
    finally:
        await raw.aclose()


async def test_two_replicas_on_one_redis_enforce_one_budget(db_url: str, tmp_path: Path) -> None:
    prefix = f"morgan-test-{uuid.uuid4().hex[:12]}:"
    try:
        async with two_replicas(
            db_url,
            tmp_path,
            MORGAN_CACHE_URL=f"{SHARED_REDIS}?prefix={prefix}",
            MORGAN_RATE_LIMIT_PER_MINUTE="3",
            MORGAN_AUTH_FAILURES_PER_MINUTE="4",
        ) as (a, b):
            for api in (a, b, a):
                r = await api.client.post("/api/chat", json={"message": "hi"}, headers=api.auth())
                assert r.status_code == 200, r.text
            for api in (b, a):  # each replica alone has counted fewer than 3
                r = await api.client.post("/api/chat", json={"message": "hi"}, headers=api.auth())
                assert r.status_code == 429, r.text
                assert r.json()["code"] == "rate_limited" and int(r.headers["retry-after"]) > 0
            # Token guessing is one budget per address across replicas as well.
            for api in (a, b, a, b):
                guess = api.auth("mgn_" + uuid.uuid4().hex)
                assert (await api.client.get("/api/documents", headers=guess)).status_code == 401
            for api in (a, b):
                guess = api.auth("mgn_" + uuid.uuid4().hex)
                assert (await api.client.get("/api/documents", headers=guess)).status_code == 429
            assert not a.services.cache.degraded  # type: ignore[attr-defined]
    finally:
        await _drop(prefix)


async def test_redis_stopping_mid_run_counts_per_process_and_never_fails(
    db_url: str, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        async with running_api(
            db_url,
            tmp_path / "home",
            MORGAN_CACHE_URL=server.url,
            MORGAN_RATE_LIMIT_PER_MINUTE="3",
        ) as api:
            r = await api.client.post("/api/chat", json={"message": "hi"}, headers=api.auth())
            assert r.status_code == 200 and r.json()["degraded"] == [], r.text
            server.stop()
            for _ in range(2):  # the local count saw the first chat
                r = await api.client.post("/api/chat", json={"message": "hi"}, headers=api.auth())
                assert r.status_code == 200, r.text
                assert "cache" in r.json()["degraded"]
            r = await api.client.post("/api/chat", json={"message": "hi"}, headers=api.auth())
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            status = await api.client.get("/api/status", headers=api.auth())
            assert status.status_code == 200, status.text
            assert "cache" in status.json()["degraded"]
    finally:
        server.stop()
