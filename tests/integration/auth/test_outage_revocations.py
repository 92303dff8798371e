"""The outage token cache never accepts a token revoked, or a user disabled, after its last
database check: in the same process at once, across processes through Redis, and through
`morgan users token revoke` / `morgan users disable` run as the operator would. Both databases;
the outage itself on a PostgreSQL of the test's own."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from click.testing import CliRunner

from morgan.auth import AuthService, CurrentUser, Revocations
from morgan.auth.outage import (
    LocalRevocations,
    RecentTokens,
    RedisRevocations,
    build_revocations,
)
from morgan.cli.main import cli
from morgan.settings import load_settings
from morgan.shared_state import SharedRedis
from morgan.storage.db import Database
from tests.fixtures.own_postgres import OwnPostgres
from tests.integration.api.conftest import running_api

SHARED_REDIS = "redis://127.0.0.1:6379/0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def _checked(auth: AuthService, recent: RecentTokens, token: str) -> CurrentUser:
    """What the request path does while the database is up: check, then remember."""
    checked_at = time.time()
    user = await auth.authenticate(token)
    recent.remember(token, user, checked_at)
    return user


async def test_revoke_and_disable_reach_the_cache_in_the_same_process(db: Database) -> None:
    revocations = LocalRevocations()
    assert isinstance(revocations, Revocations)
    auth, recent = AuthService(db, revocations), RecentTokens(60, revocations)
    ann, ann_token = await auth.create_user("ann")
    _, bob_token = await auth.create_user("bob")
    _, carl_token = await auth.create_user("carl")
    for token in (ann_token, bob_token, carl_token):
        await _checked(auth, recent, token)
    assert await recent.recall(ann_token) == ann

    assert await auth.revoke_tokens("ann") == 1
    await auth.set_active("bob", False)
    assert await recent.recall(ann_token) is None
    assert await recent.recall(bob_token) is None
    assert (await recent.recall(carl_token)).name == "carl"  # type: ignore[union-attr]

    # Enabled again and checked again: the new check is newer than the disable.
    await auth.set_active("bob", True)
    await _checked(auth, recent, bob_token)
    assert (await recent.recall(bob_token)).name == "bob"  # type: ignore[union-attr]


async def test_the_cache_is_short_lived_and_its_ttl_a_setting() -> None:
    clock = FakeClock()
    recent = RecentTokens(30, clock=clock)
    user = CurrentUser(uuid.uuid4(), "ann")
    recent.remember("mgn_a", user, clock.now)
    clock.now += 29
    assert await recent.recall("mgn_a") == user
    clock.now += 2
    assert await recent.recall("mgn_a") is None
    off = RecentTokens(0, clock=clock)
    off.remember("mgn_a", user, clock.now)
    assert await off.recall("mgn_a") is None

    assert load_settings({"MORGAN_HOME": "/tmp/x"}).auth.outage_token_ttl_s <= 120
    ttl = load_settings({"MORGAN_HOME": "/tmp/x", "MORGAN_AUTH_OUTAGE_TOKEN_TTL_S": "15"})
    assert ttl.auth.outage_token_ttl_s == 15


@contextlib.asynccontextmanager
async def _shared(prefix: str, url: str = SHARED_REDIS) -> AsyncIterator[SharedRedis]:
    shared = SharedRedis(url, prefix)
    try:
        yield shared
    finally:
        if url == SHARED_REDIS:
            names = [n async for n in shared.client.scan_iter(match=shared.namespace + "*")]
            if names:
                await shared.client.delete(*names)
        await shared.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["file", pytest.param("redis", marks=pytest.mark.redis)])
async def two_processes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Revocations, Revocations]]:
    """The server's Revocations and another process's (the CLI, another replica), each its
    own object: embedded they share MORGAN_HOME's file, in the cluster the Redis."""
    if request.param == "file":
        home = tmp_path / "home"
        home.mkdir()
        yield build_revocations(None, 60, home), build_revocations(None, 60, home)
        return
    prefix = f"morgan-test-{uuid.uuid4().hex[:12]}:"
    async with _shared(prefix) as server_redis, _shared(prefix) as admin_redis:
        yield RedisRevocations(server_redis, 60), RedisRevocations(admin_redis, 60)


async def test_revocations_reach_other_processes(
    db: Database, db_url: str, two_processes: tuple[Revocations, Revocations]
) -> None:
    server_side, admin_side = two_processes
    server_auth, recent = AuthService(db, server_side), RecentTokens(60, server_side)
    _, ann_token = await server_auth.create_user("ann")
    _, bob_token = await server_auth.create_user("bob")
    _, carl_token = await server_auth.create_user("carl")
    for token in (ann_token, bob_token, carl_token):
        await _checked(server_auth, recent, token)

    other_db = Database(db_url)  # another process: its own connection
    try:
        admin = AuthService(other_db, admin_side)
        assert await admin.revoke_tokens("ann") == 1
        await admin.set_active("bob", False)
    finally:
        await other_db.close()
    assert await recent.recall(ann_token) is None
    assert await recent.recall(bob_token) is None
    assert await recent.recall(carl_token) is not None


async def test_when_the_record_cannot_be_read_nothing_is_vouched_for(
    db: Database, tmp_path: Path
) -> None:
    auth = AuthService(db)
    _, token = await auth.create_user("carl")
    # Redis unreachable while the database is down: refuse.
    async with _shared("morgan-test:", f"redis://127.0.0.1:{_closed_port()}/0") as dead:
        blind = RecentTokens(60, RedisRevocations(dead, 60))
        await _checked(auth, blind, token)
        assert await blind.recall(token) is None
        assert dead.degraded
    # The embedded record unreadable (MORGAN_HOME gone bad): refuse as well.
    unreadable = tmp_path / "home"
    unreadable.mkdir()
    (unreadable / "revocations").mkdir()  # reading it fails with an OSError
    blind = RecentTokens(60, build_revocations(None, 60, unreadable))
    await _checked(auth, blind, token)
    assert await blind.recall(token) is None


async def test_an_embedded_server_hears_of_a_cli_revoke_through_morgan_home(
    db_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    async with running_api(db_url, home) as api:
        ann = await api.new_user("ann")
        for token in (ann, api.token):
            r = await api.client.get("/api/documents", headers=api.auth(token))
            assert r.status_code == 200, r.text
        recent: RecentTokens = api.client.app.state.recent_tokens
        assert await api.on_app_loop(recent.recall, ann) is not None

        env = {"MORGAN_HOME": str(home), "MORGAN_DATABASE_URL": db_url}
        await asyncio.to_thread(_morgan, env, "users", "token", "revoke", "ann")
        assert await api.on_app_loop(recent.recall, ann) is None  # what an outage would ask
        assert await api.on_app_loop(recent.recall, api.token) is not None


# -- the outage itself, with the real commands ----------------------------------------------


def _morgan(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


async def test_the_cli_says_when_a_revocation_cannot_reach_redis(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    await AuthService(db).create_user("ann")
    env = {
        "MORGAN_HOME": str(tmp_path / "home"),
        "MORGAN_DATABASE_URL": db_url,
        "MORGAN_CACHE_URL": f"redis://127.0.0.1:{_closed_port()}/0",
    }
    out = await asyncio.to_thread(_morgan, env, "users", "token", "revoke", "ann")
    assert "revoked 1 token of ann" in out and "Redis unreachable" in out


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
async def test_a_token_revoked_just_before_a_postgres_outage_is_refused_during_it(
    own_pg: OwnPostgres, tmp_path: Path
) -> None:
    prefix = f"morgan-test-{uuid.uuid4().hex[:12]}:"
    cache_url = f"{SHARED_REDIS}?prefix={prefix}"
    home = tmp_path / "home"
    try:
        async with running_api(
            own_pg.url, home, MORGAN_CACHE_URL=cache_url, MORGAN_DATABASE_POOL_TIMEOUT_S="2"
        ) as api:
            ann, bob = await api.new_user("ann"), await api.new_user("bob")
            for token in (api.token, ann, bob):  # each seen by the server while PG is up
                r = await api.client.get("/api/status", headers=api.auth(token))
                assert r.status_code == 200, r.text

            env = {"MORGAN_HOME": str(home), "MORGAN_DATABASE_URL": own_pg.url}
            env["MORGAN_CACHE_URL"] = cache_url
            await asyncio.to_thread(_morgan, env, "users", "token", "revoke", "ann")
            await asyncio.to_thread(_morgan, env, "users", "disable", "bob")
            own_pg.stop()

            up = await api.client.get("/api/status", headers=api.auth())
            assert up.status_code == 200 and "database" in up.json()["degraded"], up.text
            for token in (ann, bob):
                r = await api.client.get("/api/status", headers=api.auth(token))
                assert r.status_code == 503, r.text  # cannot be vouched for: not 200
                assert r.json()["code"] == "database_unavailable"

            own_pg.start()
            for token in (ann, bob):
                r = await api.client.get("/api/status", headers=api.auth(token))
                assert r.status_code == 401, r.text
    finally:
        raw = aioredis.Redis.from_url(SHARED_REDIS)
        names = [n async for n in raw.scan_iter(match=f"*{prefix}*")]
        if names:
            await raw.delete(*names)
        await raw.aclose()
