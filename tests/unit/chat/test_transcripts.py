"""A client's transcript mapped to a Morgan conversation (`morgan.chat.transcripts`), on a real
database of each dialect and the real memory cache: the question and history are split out,
the same transcript content always continues one conversation, an unknown one is imported once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from morgan.auth.service import AuthService
from morgan.chat.conversations import ConversationRepository, TurnRecord
from morgan.chat.schemas import ChatResponse, SourceOut
from morgan.chat.transcripts import (
    IMPORTED_MODEL,
    Transcripts,
    pair_turns,
    split_messages,
    thread_key,
)
from morgan.errors import BadRequest, NotFound
from morgan.storage.cache.base import CacheUnavailable
from morgan.storage.cache.memory import MemoryCache
from morgan.storage.db import Database


@dataclass
class Msg:
    """A transcript message; `text()` raises like an OpenAI text part without text."""

    role: str
    content: str | None

    def text(self) -> str:
        if self.content is None:
            raise BadRequest("a content part of type `text` needs a `text` field")
        return self.content.strip()


def test_the_question_is_the_last_user_message_and_history_is_user_and_assistant_text() -> None:
    question, prior = split_messages(
        [
            Msg("system", "Be brief."),
            Msg("user", " Hi "),
            Msg("assistant", "Hello!"),
            Msg("tool", "42"),
            Msg("assistant", "   "),
            Msg("user", "How much sun do tomatoes need? "),
            Msg("system", "Answer in English."),
        ]
    )
    assert question == "How much sun do tomatoes need?"
    assert prior == [("user", "Hi"), ("assistant", "Hello!")]


def test_a_message_outside_the_history_is_never_read() -> None:
    # A system message with an unreadable part does not fail the request: it is not history.
    assert split_messages([Msg("system", None), Msg("user", "Hi")]) == ("Hi", [])
    with pytest.raises(BadRequest, match="needs a `text` field"):
        split_messages([Msg("user", None), Msg("user", "Hi")])


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([Msg("robot", "beep"), Msg("user", "Hi")], "unknown message role 'robot'"),
        ([Msg("system", "Be brief.")], "must contain a message with role `user`"),
        ([Msg("user", "Hi"), Msg("assistant", "Hello")], "must come from the user"),
        ([Msg("user", "   ")], "the last user message has no text"),
    ],
)
def test_transcripts_that_cannot_be_answered_are_bad_requests(
    messages: list[Msg], error: str
) -> None:
    with pytest.raises(BadRequest, match=error):
        split_messages(messages)


def test_turns_pair_each_question_with_the_replies_after_it() -> None:
    assert pair_turns(
        [
            ("assistant", "Welcome!"),  # before any question: no turn to belong to
            ("user", "a"),
            ("assistant", "b"),
            ("assistant", "c"),
            ("user", "d"),
        ]
    ) == [("a", "b\n\nc"), ("d", None)]


def test_the_thread_key_is_the_content_and_the_user() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    transcript = [("user", "Hi"), ("assistant", "Hello!")]
    assert thread_key(ada, transcript) == thread_key(
        ada, [("user", " Hi\n"), ("assistant", "Hello!")]
    )
    assert thread_key(ada, transcript) != thread_key(bob, transcript)
    assert thread_key(ada, transcript) != thread_key(ada, transcript[::-1])


class DownCache(MemoryCache):
    """The memory cache with its server gone: every call fails as an unreachable Redis does."""

    async def get(self, key: str) -> bytes | None:
        raise CacheUnavailable("cache down")

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        raise CacheUnavailable("cache down")


@pytest.fixture
async def user_id(db: Database) -> uuid.UUID:
    user, _ = await AuthService(db).create_user("ada")
    return user.id


HISTORY = [("user", "Hi"), ("assistant", "Hello!"), ("user", "Tomatoes?"), ("assistant", "Sun.")]


async def test_an_unknown_transcript_is_imported_once_and_then_continued(
    db: Database, user_id: uuid.UUID
) -> None:
    conversations = ConversationRepository(db)
    transcripts = Transcripts(conversations, MemoryCache())
    first = await transcripts.resolve(user_id, None, HISTORY)
    assert first is not None
    stored = await conversations.messages(user_id, first)
    assert [(m.role, m.content) for m in stored] == HISTORY
    assert {m.model for m in stored if m.role == "assistant"} == {IMPORTED_MODEL}
    # The same content again (a retry, a regenerate) is the same conversation, not a copy.
    assert await transcripts.resolve(user_id, None, HISTORY) == first
    assert await conversations.count(user_id) == 1
    # The answer's transcript, remembered, is what the next question continues.
    await transcripts.remember(
        user_id, [*HISTORY, ("user", "Basil?"), ("assistant", "Inside.")], first
    )
    longer = [*HISTORY, ("user", "Basil?"), ("assistant", "Inside.")]
    assert await transcripts.resolve(user_id, None, longer) == first


async def test_no_history_starts_a_new_conversation_and_an_explicit_one_must_be_the_callers(
    db: Database, user_id: uuid.UUID
) -> None:
    conversations = ConversationRepository(db)
    transcripts = Transcripts(conversations, MemoryCache())
    assert await transcripts.resolve(user_id, None, []) is None
    own = await conversations.create(user_id, "mine")
    assert await transcripts.resolve(user_id, own.id, HISTORY) == own.id
    bob, _ = await AuthService(db).create_user("bob")
    with pytest.raises(NotFound):
        await transcripts.resolve(bob.id, own.id, [])


async def test_a_deleted_conversation_or_a_failing_cache_imports_again(
    db: Database, user_id: uuid.UUID
) -> None:
    conversations = ConversationRepository(db)
    transcripts = Transcripts(conversations, MemoryCache())
    first = await transcripts.resolve(user_id, None, HISTORY)
    assert first is not None
    await conversations.soft_delete(user_id, first)
    second = await transcripts.resolve(user_id, None, HISTORY)
    assert second not in (None, first)
    # The cache only holds copies: when it is down, the transcript is imported, not refused.
    down = Transcripts(conversations, DownCache())
    third = await down.resolve(user_id, None, HISTORY)
    assert third not in (None, first, second)
    await down.remember(user_id, HISTORY, third)  # a lost mapping is not an error


async def test_usage_is_the_stored_count_else_an_estimate(db: Database, user_id: uuid.UUID) -> None:
    conversations = ConversationRepository(db)
    transcripts = Transcripts(conversations, MemoryCache())
    conversation = await conversations.create(user_id, "q")
    source = SourceOut(
        n=1,
        document_id=uuid.uuid4(),
        title="Guide",
        chunk_index=0,
        page=None,
        heading="",
        score=1.0,
        snippet="tomatoes need sun",
    )
    response = ChatResponse(
        conversation_id=conversation.id,
        message_id=uuid.uuid4(),  # no stored message: the counts are estimated
        text="six hours",
        emotion=None,
        sources=[source],
        degraded=[],
        timings={},
    )
    words = lambda text: len(text.split())
    assert await transcripts.usage(user_id, "How much sun?", response, words) == (3 + 3, 2)
    _, answer = await conversations.record_turn(
        user_id,
        conversation.id,
        TurnRecord(
            user_text="How much sun?",
            assistant_text="six hours",
            prompt_tokens=90,
            completion_tokens=4,
        ),
    )
    assert answer is not None
    response.message_id = answer.id
    assert await transcripts.usage(user_id, "How much sun?", response, words) == (90, 4)
