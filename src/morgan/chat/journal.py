"""The chat path's database writes, kept when the database is down.

A turn's writes (a new conversation, the user message, its encrypted emotion, the answer) go
to the database, or, while it is unreachable, to the durable local `Outbox`, flushed in order
when it returns. Ids and timestamps are chosen before either path, so the answer already
names the message id it will have, and a replayed entry is written once.

Ownership of an existing conversation is checked by the database; while it is down, by the
owner remembered in the cache when the conversation was last opened. A conversation neither
can vouch for answers 503: one user's window is never served to another.

A conversation with writes still queued keeps queueing its turns until the outbox has applied
them (a turn never reaches the database before its conversation, and its turns stay in order);
every other conversation writes to the database directly as soon as it answers. Requests never
wait for the queue to drain: the outbox's background loop drains it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import msgspec
import structlog

from morgan.chat.conversations import (
    ConversationRepository,
    TurnRecord,
    history_pairs,
    new_conversation,
)
from morgan.chat.ports import LearningPort, NoLearning
from morgan.errors import DatabaseUnavailable, NotFound, database_down
from morgan.storage.cache import Cache
from morgan.storage.models import Conversation
from morgan.storage.outbox import Outbox

log = structlog.get_logger(__name__)

OWNER_TTL_S = 7 * 24 * 3600
DEGRADED = "database"


class QueuedConversation(msgspec.Struct, frozen=True):
    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    at: datetime


class QueuedTurn(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    conversation_id: uuid.UUID
    turn: TurnRecord
    learn: bool = True
    """Learning observes the turn once it is in the database (never a crisis turn)."""
    cited_documents: list[uuid.UUID] = msgspec.field(default_factory=list)


class ConversationWrites:
    def __init__(
        self,
        conversations: ConversationRepository,
        *,
        outbox: Outbox | None = None,
        cache: Cache | None = None,
        learning: LearningPort | None = None,
    ) -> None:
        self.conversations = conversations
        self.outbox = outbox
        self.cache = cache
        self.learning = learning or NoLearning()
        # Conversations with writes still queued: their next turns queue behind them (a turn
        # never reaches the database before its conversation); every other one goes direct.
        self._queued: Counter[uuid.UUID] = Counter()
        if outbox is not None:
            outbox.register(
                "conversation", QueuedConversation, self._apply_conversation, self._settled
            )
            outbox.register("turn", QueuedTurn, self._apply_turn, self._settled)
            for entry in outbox.waiting("conversation"):
                self._queued[entry.id] += 1
            for entry in outbox.waiting("turn"):
                self._queued[entry.conversation_id] += 1

    async def open(
        self,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID | None,
        title: str,
        degraded: list[str],
    ) -> Conversation:
        """The user's conversation (new when `conversation_id` is None); 404 for another
        user's id; while the database is down, from the outbox and the cache."""
        try:
            if conversation_id is None:
                conversation = await self.conversations.create(user_id, title)
            elif conversation_id in self._queued:
                raise DatabaseUnavailable("this conversation's earlier writes are still queued")
            else:
                conversation = await self.conversations.get(user_id, conversation_id)
        except Exception as exc:
            if self.outbox is None or not database_down(exc):
                raise
            conversation = await self._open_offline(user_id, conversation_id, title)
            _mark(degraded)
        await self._remember_owner(conversation.id, user_id)
        return conversation

    async def check_owner(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        """404 unless the conversation is the user's (before a stream starts)."""
        try:
            if conversation_id in self._queued:
                raise DatabaseUnavailable("this conversation's earlier writes are still queued")
            await self.conversations.get(user_id, conversation_id)
        except Exception as exc:
            if self.outbox is None or not database_down(exc):
                raise
            await self._owner_from_cache(user_id, conversation_id)

    async def history(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, last: int, degraded: list[str]
    ) -> list[tuple[str, str]]:
        """The stored window, or nothing while the database is down (the cache had none)."""
        try:
            messages = await self.conversations.messages(user_id, conversation_id, last=last)
        except Exception as exc:
            if self.outbox is None or not database_down(exc):
                raise
            _mark(degraded)
            return []
        return history_pairs(messages)

    async def record_turn(
        self,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        turn: TurnRecord,
        degraded: list[str],
        *,
        learn: bool = True,
        cited_documents: Sequence[uuid.UUID] = (),
    ) -> uuid.UUID:
        """Store the turn (or queue it); returns the id of its answer (or of the user message
        when there is no answer). Learning observes it once it is in the database."""
        turn = _with_ids(turn)
        try:
            if conversation_id in self._queued:
                raise DatabaseUnavailable("this conversation's earlier writes are still queued")
            await self.conversations.record_turn(user_id, conversation_id, turn)
        except Exception as exc:
            if self.outbox is None or not database_down(exc):
                raise
            _mark(degraded)  # before queueing: the stored answer says so too
            await self._queue(
                "turn",
                QueuedTurn(
                    user_id, conversation_id, turn, learn, cited_documents=list(cited_documents)
                ),
                conversation_id,
            )
        else:
            if learn:
                self._observe(user_id, conversation_id, turn, cited_documents)
        return turn.assistant_message_id or turn.user_message_id  # type: ignore[return-value]

    # -- offline --------------------------------------------------------------------------

    async def _queue(
        self, kind: str, entry: QueuedConversation | QueuedTurn, key: uuid.UUID
    ) -> None:
        if self.outbox is None:  # callers check; kept under python -O
            raise RuntimeError("no outbox")
        self._queued[key] += 1  # before the await: a concurrent turn queues behind it
        try:
            await self.outbox.append(kind, entry)
        except BaseException:
            self._forget(key)
            raise

    def _settled(self, entry: QueuedConversation | QueuedTurn) -> None:
        self._forget(entry.id if isinstance(entry, QueuedConversation) else entry.conversation_id)

    def _forget(self, key: uuid.UUID) -> None:
        self._queued[key] -= 1
        if self._queued[key] <= 0:
            del self._queued[key]

    async def _open_offline(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID | None, title: str
    ) -> Conversation:
        if self.outbox is None:  # callers check; kept under python -O
            raise RuntimeError("no outbox")
        if conversation_id is not None:
            await self._owner_from_cache(user_id, conversation_id)
            return new_conversation(user_id, "", conversation_id=conversation_id)
        now = datetime.now(UTC)
        conversation = new_conversation(user_id, title, conversation_id=uuid.uuid4(), at=now)
        await self._queue(
            "conversation",
            QueuedConversation(conversation.id, user_id, conversation.title, now),
            conversation.id,
        )
        return conversation

    async def _owner_from_cache(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        owner = await self.cache.get_json(_owner_key(conversation_id)) if self.cache else None
        if owner is None:
            raise DatabaseUnavailable(
                "the database is unavailable and this conversation was not opened recently; "
                "start a new conversation or try again shortly"
            )
        if owner != str(user_id):
            raise NotFound(f"conversation {conversation_id} not found")

    async def _remember_owner(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> None:
        if self.cache is not None:
            try:
                await self.cache.set_json(
                    _owner_key(conversation_id), str(user_id), ttl_s=OWNER_TTL_S
                )
            except Exception as exc:  # noqa: BLE001 - the cache is a nicety here
                log.warning("conversation_owner_not_cached", error=str(exc)[:200])

    # -- appliers (the outbox calls them when the database is back) -----------------------

    async def _apply_conversation(self, entry: QueuedConversation) -> None:
        await self.conversations.create_once(entry.user_id, entry.id, entry.title, entry.at)

    async def _apply_turn(self, entry: QueuedTurn) -> None:
        stored = await self.conversations.record_turn_once(
            entry.user_id, entry.conversation_id, entry.turn
        )
        if stored and entry.learn:
            self._observe(entry.user_id, entry.conversation_id, entry.turn, entry.cited_documents)

    def _observe(
        self,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        turn: TurnRecord,
        cited_documents: Sequence[uuid.UUID],
    ) -> None:
        if turn.assistant_message_id is None or turn.error is not None:
            return
        self.learning.observe_turn(
            user_id, turn.assistant_message_id, turn.user_text, cited_documents, conversation_id
        )


def _with_ids(turn: TurnRecord) -> TurnRecord:
    return replace(
        turn,
        user_message_id=turn.user_message_id or uuid.uuid4(),
        assistant_message_id=turn.assistant_message_id
        or (uuid.uuid4() if turn.assistant_text is not None and turn.error is None else None),
        at=turn.at or datetime.now(UTC),
    )


def _owner_key(conversation_id: uuid.UUID) -> str:
    return f"conv:{conversation_id}:owner"


def _mark(degraded: list[str]) -> None:
    if DEGRADED not in degraded:
        degraded.append(DEGRADED)
