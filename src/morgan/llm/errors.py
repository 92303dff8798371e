"""Failure types beyond `LLMUnavailable` that callers must tell apart.

A stream that breaks after tokens were sent cannot be retried on another backend without
the user seeing two answers glued together, so it gets its own type; an embedder failure
gets its own type so the pipeline can switch to the CPU embedder and report `embeddings`.
"""

from __future__ import annotations

from morgan.llm.base import LLMUnavailable
from morgan.storage.vectors import EmbeddingDimensionUnknown

__all__ = ["EmbedderUnavailable", "EmbeddingDimensionUnknown", "LLMStreamInterrupted"]


class LLMStreamInterrupted(LLMUnavailable):
    """The backend failed after it had already streamed `partial_text` to the caller."""

    def __init__(self, message: str, *, backend: str, partial_text: str) -> None:
        super().__init__(message)
        self.backend = backend
        self.partial_text = partial_text


class EmbedderUnavailable(LLMUnavailable):
    """The embedding backend cannot embed right now (down, OOM, timeout)."""
