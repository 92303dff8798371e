"""Migrations and the schema's integrity rules, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from morgan.errors import SchemaOutOfDate
from morgan.storage.db import Database, head_revision
from morgan.storage.models import Base, Conversation, Document, Feedback, Message, User

DESIGN_TABLES = {
    "users",
    "api_tokens",
    "conversations",
    "messages",
    "emotional_states",
    "emotion_patterns",
    "emotion_triggers",
    "documents",
    "document_chunks",
    "user_preferences",
    "behavioral_patterns",
    "feedback",
    "ingestion_jobs",
    "document_boosts",
}
DROPPED_TABLES = {"processed_events"}  # 0005: never read or written


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_then_downgrade_round_trips(db_url: str) -> None:
    db = Database(db_url)
    try:
        assert await db.schema_revision() is None
        await db.upgrade()
        assert await db.schema_revision() == head_revision()
        assert await _tables(db) >= DESIGN_TABLES
        assert not (DROPPED_TABLES & await _tables(db))
        await db.downgrade("0004")
        assert await _tables(db) >= DROPPED_TABLES
        await db.downgrade("base")
        assert await db.schema_revision() is None
        assert not (DESIGN_TABLES & await _tables(db))
        await db.upgrade()
        assert await db.schema_revision() == head_revision()
    finally:
        await db.close()


async def test_migrations_match_the_models(db_url: str) -> None:
    """Autogenerate finds nothing to do: the migration scripts and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(db_url)
    try:
        await db.upgrade()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        diff = [d for d in diff if "fts" not in str(d)]
        assert diff == []
    finally:
        await db.close()


async def test_server_refuses_an_out_of_date_schema(db_url: str) -> None:
    db = Database(db_url)
    try:
        with pytest.raises(SchemaOutOfDate, match="morgan db upgrade"):
            await db.ensure_schema(migrate=False)
        await db.ensure_schema(migrate=True)
        await db.ensure_schema(migrate=False)
    finally:
        await db.close()


async def test_constraints_hold_and_no_triggers_exist(db_url: str) -> None:
    db = Database(db_url)
    await db.upgrade()
    try:
        async with db.transaction() as s:
            user = User(name="ann")
            s.add(user)
            await s.flush()
            conv = Conversation(user_id=user.id, title="t")
            s.add(conv)
            await s.flush()
            user_id, conv_id = user.id, conv.id
        with pytest.raises(IntegrityError):
            async with db.transaction() as s:
                s.add(Feedback(user_id=user_id, conversation_id=conv_id, rating=9))
        with pytest.raises(IntegrityError):
            async with db.transaction() as s:
                s.add(Feedback(user_id=user_id, rating=3))  # neither message nor conversation
        with pytest.raises(IntegrityError):
            async with db.transaction() as s:
                s.add(Message(conversation_id=conv_id, user_id=user_id, role="robot", content="x"))
        with pytest.raises(IntegrityError):
            async with db.transaction() as s:
                s.add(
                    Message(conversation_id=uuid.uuid4(), user_id=user_id, role="user", content="x")
                )
        with pytest.raises(IntegrityError):
            async with db.transaction() as s:
                s.add_all(
                    [
                        Document(
                            user_id=user_id,
                            source="a",
                            filename="a",
                            content_hash="h",
                            blob_key="k",
                        ),
                        Document(
                            user_id=user_id,
                            source="a",
                            filename="a",
                            content_hash="h2",
                            blob_key="k2",
                        ),
                    ]
                )
        async with db.session() as s:
            conv = await s.scalar(select(Conversation).where(Conversation.id == conv_id))
            assert conv is not None and conv.created_at.tzinfo is not None
            assert conv.created_at <= datetime.now(UTC)
            if db.dialect == "sqlite":
                count = await s.scalar(
                    text("SELECT count(*) FROM sqlite_master WHERE type='trigger'")
                )
            else:
                count = await s.scalar(
                    text(
                        "SELECT count(*) FROM information_schema.triggers WHERE trigger_schema='public'"
                    )
                )
            assert count == 0
    finally:
        await db.close()
