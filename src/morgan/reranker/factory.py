"""Pick the reranker from settings: the service URL wins, then a local model, else off."""

from __future__ import annotations

from pathlib import Path

from morgan.reranker.base import Reranker
from morgan.reranker.disabled import DisabledReranker
from morgan.reranker.http_client import HttpReranker
from morgan.reranker.in_process import InProcessReranker


def create_reranker(
    *,
    url: str | None = None,
    model_dir: str | Path | None = None,
    timeout_s: float = 5.0,
    max_length: int = 512,
    batch_size: int = 32,
) -> Reranker:
    """Nothing is loaded here; call `warm_up()` on an `InProcessReranker` at start-up."""
    if url:
        return HttpReranker(url, timeout_s)
    if model_dir:
        return InProcessReranker.from_model_dir(
            model_dir, max_length=max_length, batch_size=batch_size
        )
    return DisabledReranker("set MORGAN_RERANKER_URL or MORGAN_RERANKER_MODEL_DIR to enable")
