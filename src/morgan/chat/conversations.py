"""Conversations and messages, scoped to their user; soft delete keeps history recoverable."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, update

from morgan.errors import NotFound
from morgan.storage.db import Database
from morgan.storage.models import Conversation, EmotionalState, Message


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """What one chat turn writes, all in one transaction."""

    user_text: str
    assistant_text: str | None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    timings: dict[str, Any] | None = None
    sources: list[Any] | None = None
    degraded: list[str] | None = None
    response_check: dict[str, Any] | None = None
    error: str | None = None
    emotion_ciphertext: bytes | None = None
    user_message_id: uuid.UUID | None = None
    """Ids and time chosen before the write, so a queued turn applies idempotently."""
    assistant_message_id: uuid.UUID | None = None
    at: datetime | None = None


class ConversationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
        async with self.db.session() as session:
            conv = await session.scalar(
                select(Conversation).where(
                    Conversation.id == conversation_id,
                    Conversation.user_id == user_id,
                    Conversation.deleted_at.is_(None),
                )
            )
        if conv is None:
            raise NotFound(f"conversation {conversation_id} not found")
        return conv

    async def create(
        self,
        user_id: uuid.UUID,
        title: str,
        *,
        conversation_id: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> Conversation:
        conv = new_conversation(user_id, title, conversation_id=conversation_id, at=at)
        async with self.db.transaction() as session:
            session.add(conv)
        return conv

    async def create_once(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, title: str, at: datetime
    ) -> None:
        """`create` that does nothing when the id exists (a queued write applied again)."""
        async with self.db.session() as session:
            exists = await session.scalar(
                select(Conversation.id).where(Conversation.id == conversation_id)
            )
        if exists is None:
            await self.create(user_id, title, conversation_id=conversation_id, at=at)

    async def list(
        self, user_id: uuid.UUID, *, limit: int = 50, offset: int = 0, search: str | None = None
    ) -> builtins.list[tuple[Conversation, int]]:
        """Newest first; `search` keeps those whose title or any message contains it (any case)."""
        async with self.db.session() as session:
            counts = (
                select(Message.conversation_id, func.count(Message.id).label("n"))
                .group_by(Message.conversation_id)
                .subquery()
            )
            rows = await session.execute(
                select(Conversation, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.conversation_id == Conversation.id)
                .where(
                    Conversation.user_id == user_id,
                    Conversation.deleted_at.is_(None),
                    *_matching(search),
                )
                .order_by(Conversation.updated_at.desc(), Conversation.id)
                .limit(limit)
                .offset(offset)
            )
            return [(c, int(n)) for c, n in rows.all()]

    async def rename(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, title: str
    ) -> Conversation:
        await self.get(user_id, conversation_id)
        async with self.db.transaction() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
                .values(title=_title(title), updated_at=datetime.now(UTC))
            )
        return await self.get(user_id, conversation_id)

    async def soft_delete(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        await self.get(user_id, conversation_id)
        async with self.db.transaction() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
                .values(deleted_at=datetime.now(UTC))
            )

    async def messages(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, *, last: int | None = None
    ) -> builtins.list[Message]:
        await self.get(user_id, conversation_id)
        async with self.db.session() as session:
            stmt = (
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.user_id == user_id)
                .order_by(
                    Message.created_at.desc(), Message.role.asc()
                )  # same instant: user before assistant
            )
            if last is not None:
                stmt = stmt.limit(last)
            rows = list(await session.scalars(stmt))
        rows.reverse()
        return rows

    async def get_message(self, user_id: uuid.UUID, message_id: uuid.UUID) -> Message:
        async with self.db.session() as session:
            msg = await session.scalar(
                select(Message).where(Message.id == message_id, Message.user_id == user_id)
            )
        if msg is None:
            raise NotFound(f"message {message_id} not found")
        return msg

    async def last_assistant_message(self, user_id: uuid.UUID) -> Message | None:
        async with self.db.session() as session:
            return await session.scalar(
                select(Message)
                .where(Message.user_id == user_id, Message.role == "assistant")
                .order_by(Message.created_at.desc())
                .limit(1)
            )

    async def record_turn(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, turn: TurnRecord
    ) -> tuple[Message, Message | None]:
        """User message, emotional state and assistant message (or the error) in one transaction."""
        now = turn.at or datetime.now(UTC)
        user_msg = Message(
            **_with_id(turn.user_message_id),
            conversation_id=conversation_id,
            user_id=user_id,
            role="user",
            content=turn.user_text,
            status="error" if turn.error else "ok",
            error=turn.error,
            created_at=now,
        )
        assistant_msg: Message | None = None
        async with self.db.transaction() as session:
            session.add(user_msg)
            await session.flush()
            if turn.emotion_ciphertext is not None:
                session.add(
                    EmotionalState(
                        user_id=user_id,
                        message_id=user_msg.id,
                        conversation_id=conversation_id,
                        state_encrypted=turn.emotion_ciphertext,
                        created_at=now,
                    )
                )
            if turn.assistant_text is not None and turn.error is None:
                assistant_msg = Message(
                    **_with_id(turn.assistant_message_id),
                    conversation_id=conversation_id,
                    user_id=user_id,
                    role="assistant",
                    content=turn.assistant_text,
                    model=turn.model,
                    prompt_tokens=turn.prompt_tokens,
                    completion_tokens=turn.completion_tokens,
                    timings=turn.timings or {},
                    sources=turn.sources or [],
                    degraded=turn.degraded or [],
                    response_check=turn.response_check or {},
                    created_at=now,
                )
                session.add(assistant_msg)
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(updated_at=now)
            )
        return user_msg, assistant_msg

    async def record_turn_once(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, turn: TurnRecord
    ) -> bool:
        """`record_turn` for a queued turn: False (nothing written) when it is already stored."""
        if turn.user_message_id is None:
            raise ValueError("a queued turn carries its message ids")
        async with self.db.session() as session:
            exists = await session.scalar(
                select(Message.id).where(Message.id == turn.user_message_id)
            )
        if exists is not None:
            return False
        await self.record_turn(user_id, conversation_id, turn)
        return True

    async def count(self, user_id: uuid.UUID | None = None) -> int:
        async with self.db.session() as session:
            stmt = select(func.count(Conversation.id)).where(Conversation.deleted_at.is_(None))
            if user_id is not None:
                stmt = stmt.where(Conversation.user_id == user_id)
            return int(await session.scalar(stmt) or 0)


def _matching(search: str | None) -> tuple[Any, ...]:
    """The WHERE clause of a conversation search; LIKE wildcards in `search` match literally."""
    if not search or not search.strip():
        return ()
    needle = search.strip()
    in_messages = (
        select(Message.id)
        .where(
            Message.conversation_id == Conversation.id,
            Message.content.icontains(needle, autoescape=True),
        )
        .exists()
    )
    return (or_(Conversation.title.icontains(needle, autoescape=True), in_messages),)


def new_conversation(
    user_id: uuid.UUID,
    title: str,
    *,
    conversation_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> Conversation:
    """A conversation object not yet stored (the outbox stores it while the database is down)."""
    conv = Conversation(**_with_id(conversation_id), user_id=user_id, title=_title(title))
    if at is not None:
        conv.created_at = conv.updated_at = at
    return conv


def _with_id(value: uuid.UUID | None) -> dict[str, uuid.UUID]:
    return {} if value is None else {"id": value}


def _title(text: str) -> str:
    text = " ".join(text.split())
    return (text[:77] + "…") if len(text) > 80 else (text or "New conversation")


def history_pairs(messages: Sequence[Message]) -> builtins.list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages if m.status == "ok"]
