"""SQLAlchemy implementations of the learning repositories, for SQLite and PostgreSQL alike.

String ids are UUIDs of real rows. Upserts go through the tables' unique keys with
`INSERT ... ON CONFLICT DO UPDATE` (the dialect's own `insert`), so concurrent writers never
create duplicates. Ownership is checked here because the schema cannot express it: feedback
may only target the user's own messages, and boosts are only written for the user's own
documents. Everything else (what to store, when) is decided by the learning logic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import structlog
from sqlalchemy import Insert, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from morgan.errors import NotFound
from morgan.learning.boosts import Boost
from morgan.learning.feedback import Feedback
from morgan.learning.patterns import Pattern
from morgan.learning.preferences import Preference
from morgan.storage.db import Database, as_uuid, upsert_insert
from morgan.storage.models import (
    BehavioralPattern,
    Document,
    DocumentBoost,
    Message,
    UserPreference,
)
from morgan.storage.models import Feedback as FeedbackRow

log = structlog.get_logger(__name__)

Id = str | uuid.UUID


def _uuids(values: Iterable[Id]) -> list[uuid.UUID]:
    return [u for u in map(as_uuid, values) if u is not None]


def _user(user_id: Id) -> uuid.UUID:
    user = as_uuid(user_id)
    if user is None:
        raise NotFound(f"user {user_id!r} not found")
    return user


async def _execute_upsert(db: Database, user: uuid.UUID, stmt: Insert) -> None:
    try:
        async with db.transaction() as session:
            await session.execute(stmt)
    except IntegrityError as exc:
        # The upsert's own key cannot conflict, so this is the user's foreign key.
        if _is_foreign_key_violation(exc):
            raise NotFound(f"user {user} not found") from exc
        raise


def _is_foreign_key_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "foreign key" in text or "foreignkeyviolation" in type(exc.orig).__name__.lower()


class SqlPreferenceRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_preferences(self, user_id: str) -> dict[str, Preference]:
        user = as_uuid(user_id)
        if user is None:
            return {}
        async with self._db.session() as session:
            rows = await session.scalars(
                select(UserPreference).where(UserPreference.user_id == user)
            )
            return {
                row.key: Preference(
                    key=row.key,  # type: ignore[arg-type]  # keys are written from PreferenceKey
                    value=row.value,
                    confidence=row.confidence,
                    source_text=row.source_text,
                    updated_at=row.updated_at,
                )
                for row in rows
            }

    async def set_preference(self, user_id: str, preference: Preference) -> None:
        user = _user(user_id)
        values = {
            "value": preference.value,
            "confidence": preference.confidence,
            "source_text": preference.source_text,
            "updated_at": preference.updated_at,
        }
        stmt = upsert_insert(self._db, UserPreference).values(
            id=uuid.uuid4(),
            user_id=user,
            key=preference.key,
            created_at=preference.updated_at,
            **values,
        )
        stmt = stmt.on_conflict_do_update(index_elements=["user_id", "key"], set_=values)
        await _execute_upsert(self._db, user, stmt)

    async def delete_preference(self, user_id: str, key: str) -> None:
        user = as_uuid(user_id)
        if user is None:
            return
        async with self._db.transaction() as session:
            await session.execute(
                delete(UserPreference).where(
                    UserPreference.user_id == user, UserPreference.key == key
                )
            )


class SqlPatternRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_patterns(self, user_id: str, kinds: Sequence[str] | None = None) -> list[Pattern]:
        user = as_uuid(user_id)
        if user is None:
            return []
        query = select(BehavioralPattern).where(BehavioralPattern.user_id == user)
        if kinds is not None:
            query = query.where(BehavioralPattern.kind.in_(list(kinds)))
        async with self._db.session() as session:
            rows = await session.scalars(
                query.order_by(BehavioralPattern.kind, BehavioralPattern.key)
            )
            return [
                Pattern(row.kind, row.key, row.value, row.confidence, row.count, row.updated_at)
                for row in rows
            ]

    async def upsert_patterns(self, user_id: str, patterns: Sequence[Pattern]) -> None:
        user = _user(user_id)
        # One row per key: a batch that names a key twice keeps its last version, as a
        # sequence of single upserts would (PostgreSQL refuses to update a row twice).
        latest = {(p.kind, p.key): p for p in patterns}
        if not latest:
            return
        stmt = upsert_insert(self._db, BehavioralPattern).values(
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": user,
                    "kind": p.kind,
                    "key": p.key,
                    "value": p.value,
                    "confidence": p.confidence,
                    "count": p.count,
                    "updated_at": p.updated_at,
                }
                for p in latest.values()
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "kind", "key"],
            set_={
                "value": stmt.excluded.value,
                "confidence": stmt.excluded.confidence,
                "count": stmt.excluded.count,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        await _execute_upsert(self._db, user, stmt)


class SqlBoostRepository:
    """Boosts for documents the user does not own (another user's, deleted, not a UUID) are
    dropped with a warning, never written: a stale or forged id must not fail the job."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_boosts(
        self, user_id: str, document_ids: Sequence[str] | None = None
    ) -> dict[str, Boost]:
        user = as_uuid(user_id)
        if user is None:
            return {}
        query = select(DocumentBoost).where(DocumentBoost.user_id == user)
        if document_ids is not None:
            wanted = _uuids(document_ids)
            if not wanted:
                return {}
            query = query.where(DocumentBoost.document_id.in_(wanted))
        async with self._db.session() as session:
            rows = await session.scalars(query)
            return {
                str(row.document_id): Boost(
                    document_id=str(row.document_id),
                    value=row.boost,
                    updated_at=row.updated_at,
                    count=row.updates,
                )
                for row in rows
            }

    async def upsert_boosts(self, user_id: str, boosts: Sequence[Boost]) -> None:
        user = _user(user_id)
        latest = {doc: b for b in boosts if (doc := as_uuid(b.document_id)) is not None}
        if not latest:
            return
        # A document deleted between the ownership check and the write fails the foreign
        # key; the second attempt no longer sees it as owned and skips it.
        for attempt in (1, 2):
            try:
                await self._write_owned(user, latest)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    async def _write_owned(self, user: uuid.UUID, latest: dict[uuid.UUID, Boost]) -> None:
        async with self._db.transaction() as session:
            owned = set(
                await session.scalars(
                    select(Document.id).where(
                        Document.user_id == user, Document.id.in_(list(latest))
                    )
                )
            )
            refused = [str(doc) for doc in latest if doc not in owned]
            if refused:
                log.warning("boosts_refused_not_owned", user_id=str(user), document_ids=refused)
            if not owned:
                return
            stmt = upsert_insert(self._db, DocumentBoost).values(
                [
                    {
                        "user_id": user,
                        "document_id": doc,
                        "boost": boost.value,
                        "updates": boost.count,
                        "updated_at": boost.updated_at,
                    }
                    for doc, boost in latest.items()
                    if doc in owned
                ]
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["user_id", "document_id"],
                set_={
                    "boost": stmt.excluded.boost,
                    "updates": stmt.excluded.updates,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
            await session.execute(stmt)


class SqlFeedbackRepository:
    """`Feedback.id` is the row's `feedback_key`; `answer_id` must be one of the user's
    messages (`NotFound` otherwise, as for any id the user does not own)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_feedback(self, user_id: str, feedback: Feedback) -> bool:
        user = _user(user_id)
        answer = as_uuid(feedback.answer_id)
        try:
            async with self._db.transaction() as session:
                if answer is None or not await _owns_message(session, user, answer):
                    raise NotFound(f"answer {feedback.answer_id!r} not found")
                session.add(
                    FeedbackRow(
                        id=uuid.uuid4(),
                        user_id=user,
                        feedback_key=feedback.id,
                        message_id=answer,
                        rating=feedback.rating,
                        implicit=feedback.implicit,
                        document_ids=list(feedback.document_ids),
                        answer_length_words=feedback.answer_length_words,
                        comment=feedback.comment,
                        created_at=feedback.at,
                    )
                )
        except IntegrityError:
            # The unique (user_id, feedback_key) constraint is the duplicate check, so a
            # concurrent twin also lands here. Anything else (a check failed, the message
            # vanished meanwhile) is not a duplicate and is raised.
            if await self._exists(user, feedback.id):
                return False
            raise
        return True

    async def _exists(self, user: uuid.UUID, key: str) -> bool:
        async with self._db.session() as session:
            found = await session.scalar(
                select(FeedbackRow.id).where(
                    FeedbackRow.user_id == user, FeedbackRow.feedback_key == key
                )
            )
            return found is not None

    async def list_feedback(
        self, user_id: str, answer_id: str | None = None, limit: int = 100
    ) -> list[Feedback]:
        user = as_uuid(user_id)
        if user is None:
            return []
        query = select(FeedbackRow).where(FeedbackRow.user_id == user)
        if answer_id is not None:
            answer = as_uuid(answer_id)
            if answer is None:
                return []
            query = query.where(FeedbackRow.message_id == answer)
        query = query.order_by(FeedbackRow.created_at.desc(), FeedbackRow.feedback_key.desc())
        async with self._db.session() as session:
            rows = await session.scalars(query.limit(limit))
            return [_feedback(row) for row in rows]


async def _owns_message(session: AsyncSession, user: uuid.UUID, message: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Message.id).where(Message.id == message, Message.user_id == user)
    )
    return found is not None


def _feedback(row: FeedbackRow) -> Feedback:
    return Feedback(
        id=row.feedback_key,
        answer_id=str(row.message_id) if row.message_id is not None else "",
        at=row.created_at,
        rating=row.rating,
        implicit=row.implicit,  # type: ignore[arg-type]  # written from ImplicitSignal
        document_ids=tuple(str(d) for d in row.document_ids),
        answer_length_words=row.answer_length_words,
        comment=row.comment,
    )
