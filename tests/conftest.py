"""Shared fixtures: real PostgreSQL and SQLite databases, an isolated MORGAN_HOME.

Every storage-facing test takes `db_url`, which is parametrized over a fresh SQLite file and
a fresh PostgreSQL database (created for the session on the local server, dropped after).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from morgan.storage.db import Database
from tests.fixtures.own_postgres import OwnPostgres

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PG_ADMIN_DSN = os.environ.get(
    "MORGAN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not DATA_DIR.is_dir():
    DATA_DIR = Path(os.environ.get("MORGAN_TEST_DATA", "/work/shared/data"))
DOCUMENTS_DIR = DATA_DIR / "documents"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def own_pg() -> Iterator[OwnPostgres]:
    """A PostgreSQL of the test's own, on a free port, for fault tests that stop it."""
    base = Path(tempfile.mkdtemp(prefix="morgan-pg-"))
    base.chmod(0o755)  # the postgres user must reach its data folder
    pg = OwnPostgres(base / "pg").init()
    pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped by the test
            pg.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (asyncpg URL)."""
    name = f"morgan_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except OSError as exc:  # pragma: no cover - CI starts PostgreSQL before the suite
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def fresh_pg_url(pg_server_url: str) -> Iterator[str]:
    """A database of its own for one test (schema tests need an empty one)."""
    name = f"morgan_t_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield pg_server_url.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each dialect; storage tests run against both."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'morgan.db'}"
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A migrated database of each dialect (see `db_url`)."""
    database = Database(db_url)
    await database.upgrade()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def morgan_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MORGAN_HOME", str(home))
    for var in list(os.environ):
        if var.startswith("MORGAN_") and var not in (
            "MORGAN_HOME",
            "MORGAN_TEST_PG_ADMIN",
            "MORGAN_TEST_DATA",
            "MORGAN_MODEL_CACHE",
        ):
            monkeypatch.delenv(var)
    return home
