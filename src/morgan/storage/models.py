"""SQLAlchemy 2 typed models for the whole schema.

Types are chosen to behave the same on SQLite and PostgreSQL: `Uuid`, JSON with a JSONB
variant, and timestamps that always come back timezone-aware (UTC). Integrity lives in
foreign keys, checks and unique constraints; behaviour lives in Python (no triggers).
Emotional data is stored only as AES-GCM ciphertext (`*_encrypted` columns).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamp with time zone that SQLite (which drops the offset) also returns as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def _user_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


def _created() -> Mapped[datetime]:
    return mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = _created()
    is_active: Mapped[bool] = mapped_column(default=True)


class ApiToken(Base):
    """Only a SHA-256 of the token is stored; the token itself is shown once at creation."""

    __tablename__ = "api_tokens"
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120), default="default")
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_updated", "user_id", "updated_at"),)
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    title: Mapped[str] = mapped_column(String(300), default="New conversation")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant', 'system')", name="role"),
        CheckConstraint("status IN ('ok', 'error')", name="status"),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
    )
    id: Mapped[uuid.UUID] = _id()
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = _user_fk()
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    prompt_tokens: Mapped[int | None] = mapped_column(default=None)
    completion_tokens: Mapped[int | None] = mapped_column(default=None)
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    degraded: Mapped[list[Any]] = mapped_column(default=list)
    response_check: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()


class EmotionalState(Base):
    """One detected emotion per user message; everything but ids and time is ciphertext."""

    __tablename__ = "emotional_states"
    __table_args__ = (Index("ix_emotional_states_user_created", "user_id", "created_at"),)
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), default=None
    )
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), default=None
    )
    state_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = _created()


class EmotionPattern(Base):
    """`pattern_key` is an HMAC of (kind, key) so upserts work without revealing the pattern."""

    __tablename__ = "emotion_patterns"
    __table_args__ = (
        UniqueConstraint("user_id", "pattern_key", name="uq_emotion_patterns_user_key"),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    pattern_key: Mapped[str] = mapped_column(String(64))
    pattern_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmotionTrigger(Base):
    __tablename__ = "emotion_triggers"
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), default=None
    )
    trigger_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = _created()


class Document(Base):
    """`source` identifies a file for its user (path or filename): same source + new content
    replaces the old chunks; same content hash is a no-op."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("user_id", "source", name="uq_documents_user_source"),
        Index("ix_documents_user_hash", "user_id", "content_hash"),
        CheckConstraint("status IN ('pending', 'processing', 'ready', 'failed')", name="status"),
        CheckConstraint("size_bytes >= 0", name="size_nonneg"),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    source: Mapped[str] = mapped_column(String(1024))
    filename: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(String(512), default="")
    mime: Mapped[str] = mapped_column(String(128), default="text/plain")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    pages: Mapped[int | None] = mapped_column(default=None)
    chunk_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentChunk(Base):
    __tablename__ = "document_chunks"
    __table_args__ = (
        UniqueConstraint(
            "document_id", "granularity", "chunk_index", name="uq_document_chunks_position"
        ),
        CheckConstraint("granularity IN ('coarse', 'medium', 'fine')", name="granularity"),
        CheckConstraint("token_count >= 0", name="tokens_nonneg"),
        Index("ix_document_chunks_user_granularity", "user_id", "granularity"),
    )
    id: Mapped[uuid.UUID] = _id()
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = _user_fk()
    granularity: Mapped[str] = mapped_column(String(8))
    chunk_index: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("document_chunks.id", ondelete="CASCADE"), default=None
    )
    section_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    """The coarse (section-sized) ancestor, itself for coarse chunks: the unit results fuse on."""
    text: Mapped[str] = mapped_column(Text)
    heading: Mapped[str] = mapped_column(String(1024), default="")
    page: Mapped[int | None] = mapped_column(default=None)
    token_count: Mapped[int] = mapped_column(default=0)
    char_start: Mapped[int] = mapped_column(default=0)
    char_end: Mapped[int] = mapped_column(default=0)


class IngestionJob(Base):
    __tablename__ = "ingestion_jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'skipped')", name="status"
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"), default=None
    )
    filename: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    code: Mapped[str | None] = mapped_column(String(32), default=None)
    """The extraction error code of a failed job (`encrypted`, `too_large`, ...), migration 0003."""
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserPreference(Base):
    __tablename__ = "user_preferences"
    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_user_preferences_user_key"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence"),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSONType)
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    source_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BehavioralPattern(Base):
    __tablename__ = "behavioral_patterns"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "key", name="uq_behavioral_patterns_user_kind_key"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence"),
        CheckConstraint("count >= 0", name="count_nonneg"),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(256))
    value: Mapped[Any] = mapped_column(JSONType)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    """Explicit ratings and implicit signals (e.g. a rephrased question) on answers.

    `feedback_key` is the caller's idempotency key: the same feedback twice is stored once.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("user_id", "feedback_key", name="uq_feedback_user_key"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        CheckConstraint("rating IS NOT NULL OR implicit IS NOT NULL", name="has_signal"),
        CheckConstraint("message_id IS NOT NULL OR conversation_id IS NOT NULL", name="has_target"),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _user_fk()
    feedback_key: Mapped[str] = mapped_column(String(128), default=lambda: uuid.uuid4().hex)
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), default=None, index=True
    )
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), default=None
    )
    rating: Mapped[int | None] = mapped_column(default=None)
    implicit: Mapped[str | None] = mapped_column(String(32), default=None)
    document_ids: Mapped[list[Any]] = mapped_column(default=list)
    answer_length_words: Mapped[int | None] = mapped_column(default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _created()


class DocumentBoost(Base):
    """Learned per-user ranking adjustment of one document (bounded, decaying in code)."""

    __tablename__ = "document_boosts"
    __table_args__ = (CheckConstraint("boost >= -1 AND boost <= 1", name="boost_range"),)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    boost: Mapped[float] = mapped_column(Float, default=0.0)
    updates: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchemaRevision(Base):
    """Every migration applied, with its compatibility flag (see docs/deploy.md, upgrades).

    An older Morgan does not have a newer release's migration files; it reads this table to
    tell whether the database is newer only by expand-only revisions, which it can run on.
    """

    __tablename__ = "schema_revisions"
    revision: Mapped[str] = mapped_column(String(64), primary_key=True)
    down_revision: Mapped[str | None] = mapped_column(String(64), default=None)
    compatible_with_previous: Mapped[bool] = mapped_column(default=False)
    applied_at: Mapped[datetime] = _created()


class RuntimeSetting(Base):
    """A server-wide setting changed at run time (`morgan config set llm.temperature 0.5`).

    Read live on every request (morgan.runtime_config), so a change needs no restart and
    reaches every replica; the value is JSON, validated against the key's spec before writing.
    """

    __tablename__ = "runtime_settings"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IngestIntent(Base):
    """What an ingest is writing outside the database (a blob, vectors) before its rows land.

    Written before the blob, removed once the document row is saved or the leftovers are
    discarded; a row still here at start-up means a crash mid-ingest, and reconciliation
    (morgan.rag.reconcile, `morgan doctor`) removes the blob and vectors it names.
    """

    __tablename__ = "ingest_intents"
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    blob_key: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = _created()
