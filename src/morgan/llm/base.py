"""Interfaces for text generation and embeddings.

The chat pipeline only ever sees these protocols, so Ollama, an OpenAI-compatible server,
the embedded GGUF model and the extractive fallback are interchangeable by settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Literal, Protocol, runtime_checkable

import msgspec

from morgan.components import ComponentHealth

Role = Literal["system", "user", "assistant"]


class ChatMessage(msgspec.Struct, frozen=True):
    role: Role
    content: str


class SourcePassage(msgspec.Struct, frozen=True):
    """A retrieved chunk as the LLM sees it; `n` is the citation number `[n]`."""

    n: int
    title: str
    text: str


class GenerationRequest(msgspec.Struct, frozen=True):
    """Everything a backend needs to answer; backends render it in their own prompt format.

    Chat backends send `system` + `history` + a user turn holding the numbered sources and
    the question; a base (completion) model renders a grounded completion prompt instead.
    """

    question: str
    system: str = ""
    history: tuple[ChatMessage, ...] = ()
    sources: tuple[SourcePassage, ...] = ()
    max_tokens: int = 256
    temperature: float = 0.2
    top_p: float = 0.9
    stop: tuple[str, ...] = ()
    model: str | None = None


class Generation(msgspec.Struct, frozen=True):
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


@runtime_checkable
class LLM(Protocol):
    """A text generator. `stream` yields text deltas; `generate` returns the whole answer."""

    name: str

    @property
    def context_window(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    async def generate(self, request: GenerationRequest) -> Generation: ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[str]: ...

    async def health(self) -> ComponentHealth: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised dense vectors of a fixed dimension."""

    name: str

    @property
    def dimension(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def health(self) -> ComponentHealth: ...


class LLMUnavailable(Exception):
    """Raised by a backend when it cannot answer (down, OOM, timeout) so callers fall back."""


class BackendFailure(msgspec.Struct, frozen=True):
    backend: str
    error: str


class FallbackReport(msgspec.Struct):
    """Who answered one request and who failed before it. Pass a fresh one per request."""

    answered_by: str | None = None
    failures: list[BackendFailure] = msgspec.field(default_factory=list)
    interrupted: bool = False

    @property
    def degraded(self) -> bool:
        """True when the first backend did not deliver a complete answer."""
        return bool(self.failures) or self.interrupted


@runtime_checkable
class ReportingLLM(Protocol):
    """An `LLM` that can say which of its backends answered (the fallback chain).

    Only the extra method is declared, so the runtime check never touches a property.
    """

    def stream_reporting(
        self, request: GenerationRequest, report: FallbackReport
    ) -> AsyncIterator[str]: ...


@runtime_checkable
class ReportingEmbedder(Protocol):
    """An `Embedder` that can say whether a fallback produced the vectors."""

    async def embed_reporting(self, texts: Sequence[str]) -> tuple[list[list[float]], bool]: ...


def stream_reporting(
    llm: LLM, request: GenerationRequest, report: FallbackReport
) -> AsyncIterator[str]:
    """`llm.stream(request)`, filling `report` when the LLM can tell who answered.

    A plain backend leaves `report` empty: it answered itself, and nothing fell back.
    """
    if isinstance(llm, ReportingLLM):
        return llm.stream_reporting(request, report)
    return llm.stream(request)


async def embed_reporting(
    embedder: Embedder, texts: Sequence[str]
) -> tuple[list[list[float]], bool]:
    """(vectors, degraded): degraded is True when a fallback embedder produced them."""
    if isinstance(embedder, ReportingEmbedder):
        return await embedder.embed_reporting(texts)
    return await embedder.embed(texts), False
