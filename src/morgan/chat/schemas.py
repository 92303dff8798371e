"""The chat API's request and response shapes (msgspec), shared by HTTP, CLI and TUI."""

from __future__ import annotations

import uuid
from typing import ClassVar

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
    supports: bool = True
    """False when the answer says the documents do not contain it: the closest source,
    shown for reference, does not support any answer."""


class EvidenceOut(msgspec.Struct, kw_only=True):
    """A sentence copied verbatim from cited source `n` that answers the question."""

    n: int
    text: str
    page: int | None
    heading: str
    document_id: uuid.UUID
    score: float


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
    evidence: list[EvidenceOut] = msgspec.field(default_factory=list)
    dropped_sentences: int = 0
    """Generated sentences not shown: unsupported by the sources, echoes, fake turns."""
    safety: bool = False
    """True when the text is Morgan's safety response to a crisis message (morgan.safety):
    no sources, no model text that has not passed the safety check."""


# -- the chat stream ------------------------------------------------------------------------
# One `meta`, then `token`s, then `done` (or `error`). On the wire each event is one NDJSON line
# `{"event": "<kind>", "data": {...}}`: a msgspec tagged union on `event`, so the API encodes,
# and the CLI and TUI decode (`decode_stream_event`), the same typed structs.


class MetaData(msgspec.Struct, kw_only=True):
    conversation_id: uuid.UUID
    sources: list[SourceOut] = msgspec.field(default_factory=list)
    emotion: EmotionOut | None = None
    tone: str = "neutral"
    evidence: list[EvidenceOut] = msgspec.field(default_factory=list)
    safety: bool = False
    """The tokens that follow are the safety response (see ChatResponse.safety)."""


class TokenData(msgspec.Struct, kw_only=True):
    text: str


class DoneData(msgspec.Struct, kw_only=True):
    response: ChatResponse


class ErrorData(msgspec.Struct, kw_only=True):
    detail: str = "generation failed"
    conversation_id: uuid.UUID | None = None


class MetaEvent(msgspec.Struct, kw_only=True, tag_field="event", tag="meta"):
    """Sent once retrieval and emotion are done, before the first token."""

    kind: ClassVar[str] = "meta"
    data: MetaData


class TokenEvent(msgspec.Struct, kw_only=True, tag_field="event", tag="token"):
    kind: ClassVar[str] = "token"
    data: TokenData


class DoneEvent(msgspec.Struct, kw_only=True, tag_field="event", tag="done"):
    """The stored answer; its text may differ from the tokens (invalid citations removed)."""

    kind: ClassVar[str] = "done"
    data: DoneData


class ErrorEvent(msgspec.Struct, kw_only=True, tag_field="event", tag="error"):
    """Generation failed after `meta`; the failed turn is stored."""

    kind: ClassVar[str] = "error"
    data: ErrorData


StreamEvent = MetaEvent | TokenEvent | DoneEvent | ErrorEvent

_stream_decoder = msgspec.json.Decoder(StreamEvent)


def decode_stream_event(line: bytes | str) -> StreamEvent:
    """One NDJSON line to its typed event; raises `msgspec.DecodeError` for anything else."""
    return _stream_decoder.decode(line)
