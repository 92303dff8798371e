"""The default detector: a small MLP head over the MiniLM query embedding + emoji features.

The chat path already embeds the query with all-MiniLM-L6-v2, so passing that vector in
leaves only the emoji features (~0.3 ms) and the head (~0.1 ms) to compute here.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import structlog

from morgan.components import ComponentHealth
from morgan.emotion.affect import build_result
from morgan.emotion.base import EmotionModelError, EmotionResult
from morgan.emotion.emoji_features import EmojiFeaturizer
from morgan.emotion.head import DEFAULT_ARTIFACT_DIR, EmotionHead
from morgan.llm.base import Embedder
from morgan.llm.minilm import MINILM_DIMENSION, MiniLMEmbedder
from morgan.observability import timed

log = structlog.get_logger(__name__)


class EmbeddingHeadDetector:
    """MLP over [MiniLM embedding | nade emoji distribution] blended with TF-IDF logistic
    regression; see docs/emotion.md."""

    name = "minilm-emoji-tfidf"

    def __init__(
        self,
        artifact_dir: Path | str | None = None,
        embedder: Embedder | MiniLMEmbedder | None = None,
        preload_embedder: bool = True,
    ) -> None:
        """`embedder` must produce all-MiniLM-L6-v2 vectors; by default one is loaded here.

        With `preload_embedder=False`, warm_up skips the embedder; it loads on the first
        message that arrives without an embedding.
        """
        self._artifact_dir = Path(artifact_dir) if artifact_dir else DEFAULT_ARTIFACT_DIR
        self._embedder = embedder
        self._preload_embedder = preload_embedder
        self._head: EmotionHead | None = None
        self._emoji = EmojiFeaturizer()
        self._error = ""
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._head is not None:
                return
            try:
                head = EmotionHead(self._artifact_dir)
                self._emoji.warm_up()
                if self._embedder is None:
                    self._embedder = MiniLMEmbedder()
                if self._preload_embedder and isinstance(self._embedder, MiniLMEmbedder):
                    self._embedder.warm_up()
            except Exception as exc:
                self._error = f"{type(exc).__name__}: {exc}"
                log.error("emotion.detector.load_failed", error=self._error)
                raise EmotionModelError(self._error) from exc
            self._head = head
            self._error = ""

    @property
    def head(self) -> EmotionHead:
        if self._head is None:
            self.warm_up()
        if self._head is None:  # an invariant of this class, kept under python -O
            raise RuntimeError("the emotion head is not loaded")
        return self._head

    def probabilities(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """(n, 28) probabilities for texts whose MiniLM embeddings are already known."""
        head = self.head
        parts = {"minilm": np.asarray(embeddings, dtype=np.float32)}
        if "emoji" in head.inputs:
            parts["emoji"] = self._emoji.features(texts)
        return head.predict_proba(head.transform_inputs(parts), list(texts))

    def result_from_embedding(self, text: str, embedding: Sequence[float]) -> EmotionResult:
        probs = self.probabilities([text], np.asarray([embedding], dtype=np.float32))[0]
        return build_result(probs, self.head.thresholds, text)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._head is None:
            await asyncio.to_thread(self.warm_up)
        if self._embedder is None:  # an invariant of this class, kept under python -O
            raise RuntimeError("the embedder is not loaded")
        if isinstance(self._embedder, MiniLMEmbedder):
            return await asyncio.to_thread(self._embedder.embed_array, texts)
        return np.asarray(await self._embedder.embed(list(texts)), dtype=np.float32)

    async def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities for a batch of texts, embedding them here (used by trigger occlusion)."""
        embeddings = await self.embed(texts)
        return await asyncio.to_thread(self.probabilities, texts, embeddings)

    @timed("emotion_detection")
    async def detect(self, text: str, embedding: list[float] | None = None) -> EmotionResult:
        if embedding is None or len(embedding) != MINILM_DIMENSION:
            if embedding is not None:
                log.warning("emotion.embedding.wrong_dimension", got=len(embedding))
            if self._head is not None and isinstance(self._embedder, MiniLMEmbedder):
                # One thread hop for embedding and head: on a busy machine every hop is a
                # wake-up that can wait for a core.
                return await asyncio.to_thread(self._embed_and_detect, self._embedder, text)
            embedding = (await self.embed([text]))[0]
        elif self._head is None:
            await asyncio.to_thread(self.warm_up)
        return await asyncio.to_thread(self.result_from_embedding, text, embedding)

    def _embed_and_detect(self, embedder: MiniLMEmbedder, text: str) -> EmotionResult:
        return self.result_from_embedding(text, embedder.embed_array([text])[0])

    async def health(self) -> ComponentHealth:
        if self._error:
            return ComponentHealth("emotion", self.name, "down", self._error)
        if self._head is None:
            return ComponentHealth("emotion", self.name, "degraded", "not warmed up")
        return ComponentHealth("emotion", self.name, "up", self._head.meta.get("model", ""))
