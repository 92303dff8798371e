"""The chat API's request and response shapes (msgspec), shared by HTTP, CLI and TUI."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import msgspec

from morgan.validation import MAX_MESSAGE, MAX_MODEL_NAME, check_optional, check_text


class ChatRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    message: str
    conversation_id: uuid.UUID | None = None
    rag: bool = True
    top_k: int = 5
    model: str | None = None

    def __post_init__(self) -> None:
        check_text("message", self.message, max_length=MAX_MESSAGE, required=True)
        check_optional("model", self.model, max_length=MAX_MODEL_NAME)
        if not 1 <= self.top_k <= 20:
            raise ValueError("top_k must be between 1 and 20")


class SourceOut(msgspec.Struct, kw_only=True):
    n: int
    document_id: uuid.UUID
    title: str
    chunk_index: int
    page: int | None
    heading: str
    score: float
    snippet: str


class EmotionOut(msgspec.Struct, kw_only=True):
    label: str
    intensity: float
    ekman: str = "neutral"
    valence: float = 0.0
    arousal: float = 0.0
    scores: dict[str, float] = msgspec.field(default_factory=dict)


class ChatResponse(msgspec.Struct, kw_only=True):
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    text: str
    emotion: EmotionOut | None
    sources: list[SourceOut]
    degraded: list[str]
    timings: dict[str, float]
    model: str = ""
    removed_citations: int = 0
    tone: str = "neutral"


class StreamEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """NDJSON stream: one `meta`, then `token`s, then `done` (or `error`)."""

    event: Literal["meta", "token", "done", "error"]
    data: dict[str, Any] = msgspec.field(default_factory=dict)
