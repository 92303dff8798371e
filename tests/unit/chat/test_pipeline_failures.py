"""The chat pipeline when a part fails: never half an answer stored, never a silent failure.

Real parts throughout — the shipped `ChatPipeline`, a migrated SQLite database, the real
`Retriever` over an Edge index, the fallback chain and the real emotion adapter — except
the one LLM that breaks, a small implementation of the `LLM` Protocol.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from morgan.auth.service import AuthService
from morgan.chat.adapters import EmotionAdapter
from morgan.chat.conversations import ConversationRepository
from morgan.chat.pipeline import ChatPipeline
from morgan.chat.schemas import (
    ChatRequest,
    DoneEvent,
    ErrorEvent,
    MetaEvent,
    StreamEvent,
    TokenEvent,
)
from morgan.components import ComponentHealth
from morgan.emotion.crypto import EmotionCipher
from morgan.emotion.onnx_detector import OnnxEmotionDetector
from morgan.llm.base import Generation, GenerationRequest, LLMUnavailable
from morgan.llm.errors import EmbedderUnavailable
from morgan.llm.extractive import ExtractiveLLM
from morgan.llm.fallback import FallbackLLM
from morgan.llm.fallback_embedder import FallbackEmbedder
from morgan.llm.priority import answers_in_progress
from morgan.rag.documents import DocumentRepository
from morgan.rag.retrieval import Retriever
from morgan.rag.sparse import SparseEncoder
from morgan.storage.db import Database
from morgan.storage.vectors.edge import EdgeVectorIndex

DIM = 16
MESSAGE = "Tell me something about kettles."


class BreaksMidStream:
    """An `LLM` that streams `deltas`, then fails as a crashed backend does."""

    def __init__(
        self, deltas: Sequence[str], *, fail: bool = True, name: str = "breaks-mid-stream"
    ) -> None:
        self.name = name
        self.deltas = list(deltas)
        self.fail = fail
        self.closed = False

    @property
    def context_window(self) -> int:
        return 4096

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def generate(self, request: GenerationRequest) -> Generation:
        raise LLMUnavailable("engine crashed")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        try:
            for delta in self.deltas:
                yield delta
            if self.fail:
                raise LLMUnavailable("engine crashed")
        finally:
            self.closed = True

    async def health(self) -> ComponentHealth:
        return ComponentHealth("llm", self.name, "up")


class HashEmbedder:
    """An `Embedder`: deterministic unit vectors from word hashes (no model weights)."""

    dimension = DIM

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.name = "hash-down" if down else "hash"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.down:
            raise EmbedderUnavailable("GPU out of memory")
        out = []
        for text in texts:
            v = [0.0] * DIM
            for word in text.lower().split():
                v[hashlib.blake2b(word.encode()).digest()[0] % DIM] += 1.0
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / norm for x in v])
        return out

    async def health(self) -> ComponentHealth:
        return ComponentHealth("embeddings", self.name, "up")


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'morgan.db'}")
    await db.upgrade()
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def user_id(database: Database) -> uuid.UUID:
    user, _ = await AuthService(database).create_user("ada")
    return user.id


def _pipeline(
    database: Database, tmp_path: Path, llm: object, embedder: object = None, **ports: object
) -> ChatPipeline:
    embedder = embedder or HashEmbedder()
    retriever = Retriever(
        documents=DocumentRepository(database),
        vectors=EdgeVectorIndex(tmp_path / "vectors", dimension=DIM),
        embedder=embedder,  # type: ignore[arg-type]
        sparse=SparseEncoder(),
    )
    return ChatPipeline(
        conversations=ConversationRepository(database),
        retriever=retriever,
        embedder=embedder,
        llm=llm,
        **ports,  # type: ignore[arg-type]
    )


async def _events(pipeline: ChatPipeline, user: uuid.UUID) -> list[StreamEvent]:
    return [e async for e in pipeline.stream(user, ChatRequest(message=MESSAGE, rag=False))]


async def _stored(database: Database, user: uuid.UUID, conversation_id: uuid.UUID) -> list[tuple]:
    messages = await ConversationRepository(database).messages(user, conversation_id)
    return [(m.role, m.content, m.status, m.error) for m in messages]


@pytest.mark.parametrize("chained", [False, True], ids=["backend", "fallback-chain"])
async def test_generation_failing_mid_stream_is_an_error_event_and_a_failed_turn(
    database: Database, user_id: uuid.UUID, tmp_path: Path, chained: bool
) -> None:
    broken = BreaksMidStream(["Kettles boil water quickly. ", "They also"])
    # In the chain the extractive backend must not take over: the user has seen words.
    llm = FallbackLLM([broken, ExtractiveLLM()]) if chained else broken
    events = await _events(_pipeline(database, tmp_path, llm), user_id)

    assert isinstance(events[0], MetaEvent)
    shown = "".join(e.data.text for e in events if isinstance(e, TokenEvent))
    assert shown.strip() == "Kettles boil water quickly."
    assert isinstance(events[-1], ErrorEvent)
    assert not any(isinstance(e, DoneEvent) for e in events)
    assert "engine crashed" in events[-1].data.detail
    assert answers_in_progress() == 0  # a failed answer holds background work back no more
    conversation_id = events[0].data.conversation_id
    assert events[-1].data.conversation_id == conversation_id
    # The user's message is kept with the error; half an answer is never stored.
    assert await _stored(database, user_id, conversation_id) == [
        ("user", MESSAGE, "error", events[-1].data.detail)
    ]


async def test_client_cancel_records_the_turn_as_cancelled(
    database: Database, user_id: uuid.UUID, tmp_path: Path
) -> None:
    llm = BreaksMidStream(
        ["Kettles boil water quickly. ", "They switch off. ", "Done. "], fail=False
    )
    stream = _pipeline(database, tmp_path, llm).stream(
        user_id, ChatRequest(message=MESSAGE, rag=False)
    )
    meta = await anext(stream)
    assert isinstance(meta, MetaEvent)
    first = await anext(stream)
    assert isinstance(first, TokenEvent)
    assert answers_in_progress() == 1  # ingestion's background runs wait meanwhile
    await stream.aclose()  # what the server does when the client goes away
    assert answers_in_progress() == 0

    assert llm.closed, "the backend's stream is closed, so it stops decoding"
    assert await _stored(database, user_id, meta.data.conversation_id) == [
        ("user", MESSAGE, "error", "cancelled by client")
    ]


async def test_emotion_failing_still_answers(
    database: Database, user_id: uuid.UUID, tmp_path: Path
) -> None:
    # A real detector whose model folder is empty: every analysis fails to load it.
    (tmp_path / "no-model").mkdir()
    emotion = EmotionAdapter(
        OnnxEmotionDetector(tmp_path / "no-model"), EmotionCipher.from_keys(bytes(32))
    )
    llm = BreaksMidStream(["Kettles boil water quickly. "], fail=False)
    events = await _events(_pipeline(database, tmp_path, llm, emotion=emotion), user_id)

    assert isinstance(events[0], MetaEvent) and events[0].data.emotion is None
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.data.response.text.strip() == "Kettles boil water quickly."
    assert done.data.response.emotion is None
    stored = await _stored(database, user_id, done.data.response.conversation_id)
    assert stored == [
        ("user", MESSAGE, "ok", None),
        ("assistant", done.data.response.text, "ok", None),
    ]


async def test_fallbacks_are_reported_through_the_protocols(
    database: Database, user_id: uuid.UUID, tmp_path: Path
) -> None:
    """The chain and the embedder say who answered; the pipeline reports `degraded`."""
    llm = FallbackLLM(
        [
            BreaksMidStream([], name="main"),
            BreaksMidStream(["Kettles boil water quickly. "], fail=False, name="fast"),
        ]
    )
    embedder = FallbackEmbedder(HashEmbedder(down=True), HashEmbedder(), same_space=True)
    events = await _events(_pipeline(database, tmp_path, llm, embedder), user_id)

    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.data.response.model == "fast"
    assert done.data.response.degraded == ["embeddings", "llm"]
    assert done.data.response.text.strip() == "Kettles boil water quickly."
