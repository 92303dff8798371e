"""The reranker interface, its errors, and the request rules every implementation shares.

The chat pipeline only sees `Reranker`; whether scores come from an in-process ONNX model,
the separate reranker service, or nowhere (off) is a settings decision. Validation lives
here so the in-process path and the HTTP service reject exactly the same requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from morgan.components import ComponentHealth

MAX_PASSAGES = 100
"""Most passages one rerank call may score; the pipeline reranks only the top candidates."""


@runtime_checkable
class Reranker(Protocol):
    """Scores (query, passage) pairs; a higher score means more relevant.

    `rerank` returns one score per passage in the order given. An empty passage list gives
    an empty list without touching the model.
    """

    name: str

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]: ...

    async def health(self) -> ComponentHealth: ...


class RerankerError(Exception):
    """Base of every reranker error."""


class RerankerUnavailable(RerankerError):
    """The reranker cannot answer now (down, loading, timeout, 5xx).

    Callers keep the fused order and report `degraded: ["reranker"]`.
    """


class RerankerDisabled(RerankerUnavailable):
    """No reranker is configured; callers keep the fused order without flagging degradation."""


class InvalidRerankRequest(RerankerError, ValueError):
    """The request breaks the rules (empty query, too many passages); retrying cannot help."""


class RerankerModelError(RerankerError):
    """The model directory is missing, incomplete or unreadable."""


def validate_rerank_request(query: str, passages: Sequence[str]) -> None:
    """Raise `InvalidRerankRequest` with a message a person can act on."""
    if not query.strip():
        raise InvalidRerankRequest("query must not be empty")
    if not 1 <= len(passages) <= MAX_PASSAGES:
        raise InvalidRerankRequest(
            f"passages must hold between 1 and {MAX_PASSAGES} items, got {len(passages)}"
        )


def rank_order(scores: Sequence[float], top_k: int | None = None) -> list[int]:
    """Passage indices by descending score; ties keep their original order."""
    order = sorted(range(len(scores)), key=lambda index: -scores[index])
    return order if top_k is None else order[:top_k]
