"""Embeddings from the GPU backend (Ollama), with the CPU MiniLM as the fallback.

The fallback is only sound when both produce vectors in the same space: Ollama's
`all-minilm` *is* all-MiniLM-L6-v2, the default pairing. With any other remote model the
fallback is refused at construction, and a failed embedding makes retrieval go sparse-only
(flagged `degraded: ["embeddings"]` by the pipeline) instead of mixing vector spaces.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from morgan.components import ComponentHealth
from morgan.llm.base import Embedder
from morgan.llm.errors import EmbeddingDimensionUnknown

log = structlog.get_logger(__name__)


class FallbackEmbedder:
    def __init__(self, primary: Embedder, fallback: Embedder | None, *, same_space: bool) -> None:
        self.primary = primary
        self.fallback = fallback if same_space else None
        self.name = primary.name

    @property
    def dimension(self) -> int:
        """The primary's; before it has answered, the same-space fallback's (equal by design)."""
        try:
            return self.primary.dimension
        except EmbeddingDimensionUnknown:
            if self.fallback is None:
                raise
            return self.fallback.dimension

    async def warm_up_primary(self) -> None:
        """Ask the remote server once (learns the dimension); raises while it is down."""
        warm = getattr(self.primary, "warm_up", None)
        if warm is not None:
            await warm()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors, _ = await self.embed_reporting(texts)
        return vectors

    async def embed_reporting(self, texts: Sequence[str]) -> tuple[list[list[float]], bool]:
        """(vectors, degraded): degraded is True when the fallback produced them."""
        try:
            return await self.primary.embed(texts), False
        except Exception as exc:
            if self.fallback is None:
                raise
            log.warning("embeddings_fallback_cpu", error=str(exc)[:200])
            return await self.fallback.embed(texts), True

    def warm_up(self) -> None:
        warm = getattr(self.fallback, "warm_up", None)
        if warm is not None:
            warm()

    async def health(self) -> ComponentHealth:
        primary = await self.primary.health()
        if primary.state == "up":
            return primary
        if self.fallback is not None:
            return ComponentHealth(
                "embeddings",
                self.name,
                "degraded",
                f"{primary.detail}; CPU fallback {self.fallback.name} in use",
            )
        return primary
