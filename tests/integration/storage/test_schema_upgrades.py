"""Upgrades with several pods and releases: advisory-locked migrations, newer-schema compatibility.

"The next release" is a temporary copy of the alembic folder with one more migration; the code
under test ("this release") keeps reading the repository's folder. MORGAN_ALEMBIC_DIR is the
documented setting that points Morgan at a migrations folder.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from morgan.errors import SchemaOutOfDate
from morgan.storage.db import Database, alembic_dir, head_revision

NEXT_MIGRATION = '''"""next release: {title}"""
from alembic import op
import sqlalchemy as sa

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None
{flag}


def upgrade() -> None:
    op.create_table("{table}", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("{table}")
'''


def next_release(tmp_path: Path, *revisions: tuple[str, bool]) -> Path:
    """A copy of the migrations with extra revisions (name, compatible_with_previous) on top."""
    folder = tmp_path / "alembic-next"
    shutil.copytree(alembic_dir(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    down = head_revision()
    for revision, compatible in revisions:
        (folder / "versions" / f"{revision}_next.py").write_text(
            NEXT_MIGRATION.format(
                title=revision,
                revision=revision,
                down=down,
                table=f"next_{revision}",
                flag="compatible_with_previous = True" if compatible else "",
            )
        )
        down = revision
    return folder


async def upgrade_with(folder: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setenv("MORGAN_ALEMBIC_DIR", str(folder))
        db = Database(url)
        try:
            await db.ensure_schema(migrate=True)
            assert await db.schema_revision() == head_revision()
        finally:
            await db.close()


async def test_old_code_starts_on_a_database_newer_by_expand_only_revisions(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = head_revision()
    await upgrade_with(next_release(tmp_path, ("9001", True), ("9002", True)), db_url, monkeypatch)

    db = Database(db_url)  # this release again: a pod restarting mid-upgrade, or a rollback
    try:
        assert await db.schema_revision() == "9002"
        await db.ensure_schema(migrate=False)  # `morgan serve`
        await db.ensure_schema(migrate=True)  # its `morgan db upgrade` init step: a no-op
        assert await db.schema_revision() == "9002"
        assert await db.compatible_newer_revisions("9002", ours) == ["9002", "9001"]
    finally:
        await db.close()


async def test_old_code_refuses_a_newer_revision_not_marked_compatible(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade_with(next_release(tmp_path, ("9001", True), ("9002", False)), db_url, monkeypatch)
    db = Database(db_url)
    try:
        for migrate in (False, True):
            with pytest.raises(SchemaOutOfDate, match="9002 is not recorded as compatible"):
                await db.ensure_schema(migrate=migrate)
    finally:
        await db.close()


async def test_every_shipped_migration_after_the_first_is_expand_only(db_url: str) -> None:
    """The rule in docs/deploy.md: each release's migrations keep the previous release working."""
    db = Database(db_url)
    try:
        await db.ensure_schema(migrate=True)
        async with db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT revision, compatible_with_previous FROM schema_revisions")
                )
            ).all()
        flags = dict(rows)
        assert head_revision() in flags
        assert all(flags[r] for r in flags if r != "0001"), flags
    finally:
        await db.close()


@pytest.mark.postgres
async def test_replicas_migrating_together_take_the_advisory_lock(fresh_pg_url: str) -> None:
    """Three pods' `morgan db upgrade` init steps at once: one migrates, the others wait.

    Without the lock the concurrent CREATE TABLEs collide (duplicate relation errors)."""
    databases = [Database(fresh_pg_url) for _ in range(3)]
    try:
        await asyncio.gather(*(d.ensure_schema(migrate=True) for d in databases))
        assert await databases[0].schema_revision() == head_revision()
        async with databases[0].engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert "users" in tables and "schema_revisions" in tables
    finally:
        await asyncio.gather(*(d.close() for d in databases))
