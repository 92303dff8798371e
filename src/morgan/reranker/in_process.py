"""The cross-encoder used directly inside the Morgan process (laptop, CI, single node)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import structlog

from morgan.components import ComponentHealth
from morgan.reranker.base import RerankerError, RerankerUnavailable, validate_rerank_request
from morgan.reranker.onnx_cross_encoder import OnnxCrossEncoder

log = structlog.get_logger(__name__)


class InProcessReranker:
    """Runs an `OnnxCrossEncoder` in worker threads so the event loop never blocks.

    A model that fails to load makes `health` report `down` with the reason and `rerank`
    raise `RerankerUnavailable`, so the pipeline falls back to the fused order.
    """

    def __init__(self, encoder: OnnxCrossEncoder) -> None:
        self.encoder = encoder
        self.name = f"onnx:{encoder.model_name}"
        self._load_error: str | None = None

    @classmethod
    def from_model_dir(
        cls,
        model_dir: str | Path,
        *,
        max_length: int = 512,
        batch_size: int = 32,
        providers: Sequence[str] | None = None,
    ) -> InProcessReranker:
        return cls(
            OnnxCrossEncoder(
                model_dir, max_length=max_length, batch_size=batch_size, providers=providers
            )
        )

    def warm_up(self) -> None:
        """Load the model now (blocking); failures are kept for `health` and re-raised."""
        try:
            self.encoder.warm_up()
        except RerankerError as error:
            self._load_error = str(error)
            log.error(
                "reranker.load_failed", model_dir=str(self.encoder.model_dir), error=str(error)
            )
            raise
        self._load_error = None

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        validate_rerank_request(query, passages)
        if not self.encoder.is_loaded:
            try:
                await asyncio.to_thread(self.warm_up)
            except RerankerError as error:
                raise RerankerUnavailable(f"reranker model is not usable: {error}") from error
        return await asyncio.to_thread(self.encoder.score, query, list(passages))

    async def health(self) -> ComponentHealth:
        if self._load_error is not None:
            return ComponentHealth("reranker", "onnx", "down", self._load_error)
        if not self.encoder.is_loaded:
            return ComponentHealth(
                "reranker", "onnx", "down", f"model {self.encoder.model_dir} not loaded yet"
            )
        providers = ",".join(self.encoder.active_providers)
        return ComponentHealth(
            "reranker", "onnx", "up", f"{self.encoder.model_name} on {providers}"
        )
