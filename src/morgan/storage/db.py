"""Database engine, sessions and schema-version checks for SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from alembic import command
from morgan.components import ComponentHealth
from morgan.errors import SchemaOutOfDate

log = structlog.get_logger(__name__)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    echo: bool = False,
    pool_timeout: float = 10.0,
) -> AsyncEngine:
    # hide_parameters: statement parameters are user text (messages, comments); they never
    # go into error strings or logs.
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True, "hide_parameters": True}
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs.update(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_recycle=1800,
            pool_timeout=pool_timeout,
        )
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the writer.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def health(self) -> ComponentHealth:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return ComponentHealth("database", self.dialect, "up")
        except Exception as exc:  # noqa: BLE001 - any failure means down
            return ComponentHealth("database", self.dialect, "down", _short(exc))

    async def close(self) -> None:
        await self.engine.dispose()

    async def schema_revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current_revision)

    async def ensure_schema(self, *, migrate: bool) -> None:
        """Refuse to run on an out-of-date schema unless asked to upgrade it.

        The compatibility rule: a database *newer* than this code is accepted when every
        revision above our head is recorded as `compatible_with_previous` (expand-only), so an
        old pod restarting mid-upgrade, or after `helm rollback`, still starts.
        """
        head = head_revision()
        current = await self.schema_revision()
        if current == head:
            return
        if current is not None and current not in known_revisions():
            newer = await self.compatible_newer_revisions(current, head)
            log.warning("schema_newer_but_compatible", database=current, code=head, newer=newer)
            return
        if not migrate:
            raise SchemaOutOfDate(
                f"database schema is at {current or 'nothing'}, this Morgan needs {head}: "
                "run `morgan db upgrade` (or start with `morgan serve --migrate`)"
            )
        await self.upgrade()

    async def compatible_newer_revisions(self, current: str, head: str | None) -> list[str]:
        """The revisions from `current` down to our `head`, all expand-only; else SchemaOutOfDate."""
        async with self.engine.connect() as conn:
            rows = await conn.run_sync(_recorded_revisions)
        chain: list[str] = []
        revision: str | None = current
        while revision != head:
            recorded = rows.get(revision) if revision else None
            if recorded is None or not recorded[1] or len(chain) > len(rows):
                raise SchemaOutOfDate(
                    f"database schema is at {current}, newer than this Morgan ({head}), and "
                    f"revision {revision} is not recorded as compatible_with_previous: run the "
                    f"newer Morgan, or `morgan db downgrade {head}` with it first"
                )
            chain.append(str(revision))
            revision = recorded[0]
        return chain

    async def upgrade(self, revision: str = "head") -> None:
        """Alembic under a PostgreSQL advisory lock, so replicas starting together (each with its
        own `morgan db upgrade` init step) migrate once and the others wait, then find nothing
        to do. The lock is transaction-scoped: it is released even if the pod dies mid-way."""
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            current = await conn.run_sync(_current_revision)
            if current is not None and current not in known_revisions():
                # Another pod of a newer release migrated while we waited: nothing for us to do.
                log.info("schema_already_newer", database=current)
                return
            await conn.run_sync(_run_alembic, "upgrade", revision)
            await conn.run_sync(_record_revisions)
        log.info("schema_upgraded", revision=revision)

    async def downgrade(self, revision: str = "base") -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_alembic, "downgrade", revision)


def upsert_insert(db: Database, model: Any) -> Any:
    """The dialect's INSERT, which knows `on_conflict_do_update` (SQLite and PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if db.dialect == "postgresql":
        return postgresql.insert(model)
    if db.dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"upserts are not implemented for {db.dialect!r}")


def as_uuid(value: object) -> uuid.UUID | None:
    """The UUID, or None for text that is not one (so it cannot name any row)."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


def alembic_dir() -> Path:
    configured = os.environ.get("MORGAN_ALEMBIC_DIR")
    if configured:
        return Path(configured)
    for candidate in (Path(__file__).resolve().parents[3] / "alembic", Path("/app/alembic")):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("alembic migrations folder not found; set MORGAN_ALEMBIC_DIR")


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(alembic_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


MIGRATION_LOCK_KEY = 0x6D6F7267616E  # "morgan": the advisory lock every `db upgrade` takes


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _recorded_revisions(conn: Connection) -> dict[str, tuple[str | None, bool]]:
    from sqlalchemy import inspect

    if not inspect(conn).has_table("schema_revisions"):
        return {}
    rows = conn.execute(
        text("SELECT revision, down_revision, compatible_with_previous FROM schema_revisions")
    )
    return {r[0]: (r[1], bool(r[2])) for r in rows}


def _record_revisions(conn: Connection) -> None:
    """Write each script's revision and its `compatible_with_previous` flag (once)."""
    from sqlalchemy import insert, inspect

    from morgan.storage.models import SchemaRevision

    if not inspect(conn).has_table("schema_revisions"):
        return
    recorded = _recorded_revisions(conn)
    current = _current_revision(conn)
    script = ScriptDirectory.from_config(alembic_config())
    applied = {s.revision for s in script.iterate_revisions(current, "base")} if current else set()
    rows = [
        {
            "revision": s.revision,
            "down_revision": s.down_revision if isinstance(s.down_revision, str) else None,
            "compatible_with_previous": bool(getattr(s.module, "compatible_with_previous", False)),
        }
        for s in script.walk_revisions()
        if s.revision in applied and s.revision not in recorded
    ]
    if rows:
        conn.execute(insert(SchemaRevision), rows)


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _run_alembic(conn: Connection, action: str, revision: str) -> None:
    cfg = alembic_config(conn)
    getattr(command, action)(cfg, revision)
