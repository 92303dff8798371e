"""Emotional states, patterns and triggers at rest: ciphertext only, always scoped by user.

Every payload is encrypted with `EmotionCipher` (AES-GCM, key id in the blob), so the
database holds no label, score, description or trigger phrase in clear text. Patterns are
upserted by `pattern_key`, an HMAC-SHA256 of "kind:key" under a key derived from the cipher
key: equal patterns meet on one row without the row saying what the pattern is. After a key
rotation the next upsert moves a pattern from its old-key HMAC to the new one.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from morgan.emotion.crypto import EmotionCipher, EmotionCryptoError
from morgan.emotion.patterns import EmotionPattern
from morgan.emotion.triggers import Trigger
from morgan.errors import NotFound
from morgan.storage.db import Database, as_uuid, upsert_insert
from morgan.storage.models import (
    Conversation,
    EmotionalState,
    EmotionTrigger,
    Message,
)
from morgan.storage.models import EmotionPattern as EmotionPatternRow

log = structlog.get_logger(__name__)

T = TypeVar("T")
Id = str | uuid.UUID

# Which detail names the instance of a pattern kind: one row per time slot, per conversation;
# kinds not listed keep a single row per user (e.g. the dominant emotion).
PATTERN_INSTANCE_FIELD: Mapping[str, str] = {
    "time_of_day_stress": "time_of_day",
    "rising_frustration": "conversation_id",
}

_INDEX_KEY_NONCE = bytes(12)
_INDEX_KEY_LABEL = b"morgan/emotion_patterns.pattern_key/v1"


def pattern_identity(pattern: EmotionPattern) -> tuple[str, str]:
    """(kind, key): a newer pattern with the same identity replaces the stored one."""
    field = PATTERN_INSTANCE_FIELD.get(pattern.kind)
    return pattern.kind, str(pattern.detail.get(field, "")) if field else ""


def pattern_index_keys(cipher: EmotionCipher) -> dict[str, bytes]:
    """key id -> HMAC key for `pattern_key`, one per key the cipher holds.

    The cipher keeps its key material private, so the HMAC key is derived through the key's
    AES-GCM itself: under a fixed nonce (records use random 96-bit ones) its keystream is a
    deterministic pseudo-random function of the key, hashed with a purpose label.
    """
    aeads = cipher._keys  # no public derivation API on EmotionCipher yet
    return {
        key_id: hashlib.sha256(
            _INDEX_KEY_LABEL + aead.encrypt(_INDEX_KEY_NONCE, bytes(32), _INDEX_KEY_LABEL)
        ).digest()
        for key_id, aead in aeads.items()
    }


def _owner(user_id: Id) -> uuid.UUID:
    user = as_uuid(user_id)
    if user is None:
        raise NotFound(f"user {user_id!r} not found")
    return user


class EmotionRepository:
    """Reads decrypt in Python (microseconds per record); a record the cipher cannot open
    raises its `EmotionCryptoError`, naming the table and row, rather than being skipped."""

    def __init__(self, db: Database, cipher: EmotionCipher) -> None:
        self._db = db
        self._cipher = cipher
        self._index_keys = pattern_index_keys(cipher)

    # --- states ----------------------------------------------------------------------------

    async def add_state(
        self,
        user_id: Id,
        message_id: Id | None,
        conversation_id: Id | None,
        payload: Any,
        at: datetime | None = None,
    ) -> uuid.UUID:
        """Store one detected state (an `EmotionResult`, the chat path's state, or a dict)."""
        user = _owner(user_id)
        row = EmotionalState(
            id=uuid.uuid4(),
            user_id=user,
            state_encrypted=self._cipher.encrypt(msgspec.to_builtins(payload)),
            created_at=at or datetime.now(UTC),
        )
        async with self._db.transaction() as session:
            row.message_id = await _owned(session, Message, user, message_id, "message")
            row.conversation_id = await _owned(
                session, Conversation, user, conversation_id, "conversation"
            )
            session.add(row)
        return row.id

    async def _newest(
        self, model: Any, user_id: Id, since: datetime | None, limit: int
    ) -> list[Any]:
        """The user's newest `limit` rows of `model` created since `since`, oldest first."""
        user = as_uuid(user_id)
        if user is None or limit <= 0:
            return []
        query = select(model).where(model.user_id == user)
        if since is not None:
            query = query.where(model.created_at >= since)
        query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit)
        async with self._db.session() as session:
            rows = list(await session.scalars(query))
        rows.reverse()
        return rows

    async def history(
        self, user_id: Id, since: datetime | None = None, limit: int = 500
    ) -> list[tuple[datetime, Any]]:
        """The newest `limit` states since `since`, as (at, decrypted payload), newest last."""
        rows = await self._newest(EmotionalState, user_id, since, limit)
        return [
            (row.created_at, self._open(row.state_encrypted, "emotional_states", row.id))
            for row in rows
        ]

    # --- patterns --------------------------------------------------------------------------

    def pattern_key(self, kind: str, key: str, key_id: str | None = None) -> str:
        """The row key of (kind, key) under the current (or the named) cipher key."""
        secret = self._index_keys[key_id or self._cipher.key_id]
        return hmac.new(secret, f"{kind}:{key}".encode(), hashlib.sha256).hexdigest()

    async def upsert_patterns(
        self, user_id: Id, patterns: Sequence[EmotionPattern], at: datetime | None = None
    ) -> None:
        """Insert or replace each pattern by `pattern_identity`, in one transaction."""
        user = _owner(user_id)
        latest = {pattern_identity(p): p for p in patterns}
        if not latest:
            return
        at = at or datetime.now(UTC)
        current = self._cipher.key_id
        rows, superseded = [], []
        for (kind, key), pattern in latest.items():
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "user_id": user,
                    "pattern_key": self.pattern_key(kind, key),
                    "pattern_encrypted": self._cipher.encrypt(pattern),
                    "updated_at": at,
                }
            )
            superseded += [
                self.pattern_key(kind, key, old) for old in self._index_keys if old != current
            ]
        stmt = upsert_insert(self._db, EmotionPatternRow).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "pattern_key"],
            set_={
                "pattern_encrypted": stmt.excluded.pattern_encrypted,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        async with self._db.transaction() as session:
            if superseded:  # the same patterns, keyed under a rotated-out key
                await session.execute(
                    delete(EmotionPatternRow).where(
                        EmotionPatternRow.user_id == user,
                        EmotionPatternRow.pattern_key.in_(superseded),
                    )
                )
            await session.execute(stmt)

    async def get_patterns(
        self, user_id: Id, since: datetime | None = None
    ) -> list[EmotionPattern]:
        """The user's stored patterns (updated since `since`), most confident first."""
        user = as_uuid(user_id)
        if user is None:
            return []
        query = select(EmotionPatternRow).where(EmotionPatternRow.user_id == user)
        if since is not None:
            query = query.where(EmotionPatternRow.updated_at >= since)
        async with self._db.session() as session:
            rows = list(await session.scalars(query))
        patterns = [
            self._open(row.pattern_encrypted, "emotion_patterns", row.id, EmotionPattern)
            for row in rows
        ]
        return sorted(patterns, key=lambda p: (-p.confidence, p.kind))

    # --- triggers --------------------------------------------------------------------------

    async def add_triggers(
        self,
        user_id: Id,
        message_id: Id | None,
        triggers: Sequence[Trigger],
        at: datetime | None = None,
    ) -> int:
        """Store each trigger as its own encrypted row; returns how many were stored."""
        user = _owner(user_id)
        if not triggers:
            return 0
        at = at or datetime.now(UTC)
        async with self._db.transaction() as session:
            message = await _owned(session, Message, user, message_id, "message")
            session.add_all(
                EmotionTrigger(
                    id=uuid.uuid4(),
                    user_id=user,
                    message_id=message,
                    trigger_encrypted=self._cipher.encrypt(trigger),
                    created_at=at,
                )
                for trigger in triggers
            )
        return len(triggers)

    async def triggers(
        self, user_id: Id, limit: int = 100, since: datetime | None = None
    ) -> list[tuple[datetime, Trigger]]:
        """The newest `limit` triggers as (at, trigger), newest last (like `history`)."""
        rows = await self._newest(EmotionTrigger, user_id, since, limit)
        return [
            (row.created_at, self._open(row.trigger_encrypted, "emotion_triggers", row.id, Trigger))
            for row in rows
        ]

    def _open(self, blob: bytes, table: str, row_id: uuid.UUID, as_type: type[T] = Any) -> T:  # type: ignore[assignment]
        try:
            return self._cipher.decrypt(blob, as_type)
        except EmotionCryptoError as exc:
            raise type(exc)(f"{table} row {row_id}: {exc}") from exc


async def _owned(
    session: AsyncSession, model: Any, user: uuid.UUID, value: Id | None, what: str
) -> uuid.UUID | None:
    """`value` as a UUID when it names one of the user's rows; NotFound otherwise."""
    if value is None:
        return None
    row_id = as_uuid(value)
    found = None
    if row_id is not None:
        found = await session.scalar(
            select(model.id).where(model.id == row_id, model.user_id == user)
        )
    if found is None:
        raise NotFound(f"{what} {value!r} not found")
    return row_id
