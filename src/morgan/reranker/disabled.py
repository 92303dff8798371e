"""The reranker when none is configured: says so, and never invents scores."""

from __future__ import annotations

from collections.abc import Sequence

from morgan.components import ComponentHealth
from morgan.reranker.base import RerankerDisabled


class DisabledReranker:
    """Health `off`; `rerank` raises `RerankerDisabled` so callers keep the fused order."""

    name = "disabled"

    def __init__(self, reason: str = "no reranker configured") -> None:
        self.reason = reason

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        raise RerankerDisabled(f"reranker is off: {self.reason}")

    async def health(self) -> ComponentHealth:
        return ComponentHealth("reranker", "disabled", "off", self.reason)
