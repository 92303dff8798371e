"""What the chat pipeline needs from the emotion, empathy and learning modules.

Each port has a clearly named no-op default so the pipeline runs before (or without) the
real modules; `/api/status` reports which implementation is wired.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from morgan.chat.schemas import EmotionOut

DEFAULT_SYSTEM = (
    "You are Morgan, a personal assistant that answers from the user's own documents. "
    "Use only the numbered sources; cite them as [1], [2]. If the sources do not contain "
    "the answer, say so briefly."
)


class Tone(msgspec.Struct, kw_only=True):
    tone: str = "neutral"
    system: str = DEFAULT_SYSTEM
    max_tokens: int = 256
    temperature: float = 0.2
    top_p: float = 0.9
    opener: str | None = None
    acknowledge: bool = False
    crisis: bool = False
    decision: Any = None
    """The empathy module's full decision, handed back to its response check."""


class EmotionPort(Protocol):
    name: str

    async def analyze(
        self,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID | None,
        text: str,
        embedding: Sequence[float] | None,
    ) -> tuple[EmotionOut | None, Any]:
        """Returns the public emotion and an opaque state the tone port and persistence use."""
        ...

    def encrypt_state(self, state: Any) -> bytes | None: ...


class TonePort(Protocol):
    name: str

    async def decide(
        self,
        user_id: uuid.UUID,
        emotion_state: Any,
        history: Sequence[tuple[str, str]],
        message: str = "",
    ) -> Tone: ...

    def check(self, text: str, tone: Tone, emotion_state: Any) -> dict[str, Any]: ...


class LearningPort(Protocol):
    name: str

    def observe_turn(
        self,
        user_id: uuid.UUID,
        message_id: uuid.UUID,
        question: str,
        cited_documents: Sequence[uuid.UUID],
        conversation_id: uuid.UUID | None = None,
    ) -> None:
        """Never blocks: queues background work."""
        ...

    async def boosts(self, user_id: uuid.UUID) -> dict[uuid.UUID, float]: ...


class NoEmotionDetector:
    """No-op default: reports no emotion (status shows `emotion: off`)."""

    name = "none"

    async def analyze(self, user_id, conversation_id, text, embedding):  # type: ignore[no-untyped-def]
        return None, None

    def encrypt_state(self, state: Any) -> bytes | None:
        return None


class NeutralTonePolicy:
    """No-op default: the same neutral, grounded system prompt for everyone."""

    name = "neutral"

    async def decide(self, user_id, emotion_state, history, message="") -> Tone:  # type: ignore[no-untyped-def]
        return Tone()

    def check(self, text: str, tone: Tone, emotion_state: Any) -> dict[str, Any]:
        return {}


class NoLearning:
    """No-op default: nothing is learned, no boosts applied."""

    name = "none"

    def observe_turn(
        self, user_id, message_id, question, cited_documents, conversation_id=None
    ) -> None:  # type: ignore[no-untyped-def]
        return None

    async def boosts(self, user_id: uuid.UUID) -> dict[uuid.UUID, float]:
        return {}
