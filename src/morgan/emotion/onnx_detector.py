"""Any Hugging Face sequence-classification emotion model exported to ONNX.

Selected with MORGAN_EMOTION_MODEL=<dir>. The directory holds `model.onnx` (or
`onnx/model.onnx`), the tokenizer files and `config.json`; labels come from `id2label`, and
`problem_type` picks sigmoid (multi-label) or softmax. Labels are mapped onto GoEmotions'
28 by name (Ekman and common aliases included); an optional `thresholds.json` sets
per-label thresholds (default 0.5 for multi-label models).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from morgan.components import ComponentHealth
from morgan.emotion.affect import build_result
from morgan.emotion.base import EmotionModelError, EmotionResult
from morgan.emotion.labels import GOEMOTIONS_LABELS
from morgan.observability import timed
from morgan.onnx_models import find_onnx_file, load_tokenizer, open_session

log = structlog.get_logger(__name__)

LABEL_ALIASES = {
    "happy": "joy",
    "happiness": "joy",
    "joyful": "joy",
    "sad": "sadness",
    "angry": "anger",
    "anger": "anger",
    "fearful": "fear",
    "scared": "fear",
    "afraid": "fear",
    "disgusted": "disgust",
    "surprised": "surprise",
    "neutrality": "neutral",
    "none": "neutral",
    "others": "neutral",
    "other": "neutral",
    "worry": "nervousness",
    "anxiety": "nervousness",
    "trust": "admiration",
    "anticipation": "optimism",
    "shame": "embarrassment",
    "guilt": "remorse",
    "boredom": "neutral",
    "enthusiasm": "excitement",
    "fun": "amusement",
    "hate": "anger",
    "empty": "neutral",
}


def map_label(name: str) -> str | None:
    key = name.strip().lower()
    if key in GOEMOTIONS_LABELS:
        return key
    return LABEL_ALIASES.get(key)


def _find_onnx(model_dir: Path) -> Path:
    return find_onnx_file(model_dir, any_onnx=True, what="emotion model", error=EmotionModelError)


class OnnxEmotionDetector:
    """ONNX Runtime inference for a configured emotion classifier."""

    def __init__(self, model_dir: Path | str, threads: int = 1, max_tokens: int = 128) -> None:
        self.model_dir = Path(model_dir)
        self.name = f"onnx:{self.model_dir.name}"
        self._threads = threads
        self._max_tokens = max_tokens
        self._session: Any = None
        self._tokenizer: Any = None
        self._columns: np.ndarray = np.zeros(0, dtype=np.int64)  # model output -> GoEmotions index
        self._multi_label = True
        self._thresholds = np.full(len(GOEMOTIONS_LABELS), 0.5)
        self._input_names: set[str] = set()
        self._error = ""
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                self._load()
            except Exception as exc:
                self._error = f"{type(exc).__name__}: {exc}"
                log.error(
                    "emotion.onnx.load_failed", model_dir=str(self.model_dir), error=self._error
                )
                raise EmotionModelError(self._error) from exc
            self._error = ""

    def _load(self) -> None:
        onnx_path = _find_onnx(self.model_dir)
        config = json.loads((self.model_dir / "config.json").read_text())
        positions = int(config.get("max_position_embeddings", self._max_tokens))
        self._max_tokens = min(self._max_tokens, positions)
        id2label = {int(k): v for k, v in config.get("id2label", {}).items()}
        if not id2label:
            raise EmotionModelError(f"{self.model_dir}/config.json has no id2label")
        columns = np.full(len(id2label), -1, dtype=np.int64)
        unmapped = []
        for index, name in id2label.items():
            target = map_label(name)
            if target is None:
                unmapped.append(name)
            else:
                columns[index] = GOEMOTIONS_LABELS.index(target)
        if (columns < 0).all():
            raise EmotionModelError(f"none of the model's labels map to GoEmotions: {unmapped}")
        if unmapped:
            log.warning("emotion.onnx.unmapped_labels", labels=unmapped)
        self._columns = columns
        self._multi_label = config.get("problem_type") == "multi_label_classification"
        thresholds_path = self.model_dir / "thresholds.json"
        if thresholds_path.exists():
            given = json.loads(thresholds_path.read_text())
            for label, value in given.items():
                if (target := map_label(label)) is not None:
                    self._thresholds[GOEMOTIONS_LABELS.index(target)] = float(value)
        if not self._multi_label:
            self._thresholds[:] = 1.01  # softmax: only the top label
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self._tokenizer = load_tokenizer(
            self.model_dir, what="emotion model", error=EmotionModelError
        )
        session = open_session(
            onnx_path, intra_op_threads=self._threads, inter_op_threads=1, error=EmotionModelError
        )
        self._input_names = {i.name for i in session.get_inputs()}
        self._session = session
        log.info(
            "emotion.onnx.loaded",
            model_dir=str(self.model_dir),
            labels=len(id2label),
            multi_label=self._multi_label,
        )

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(n, 28) GoEmotions-indexed probabilities; labels the model lacks stay 0."""
        if self._session is None:
            self.warm_up()
        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self._max_tokens, return_tensors="np"
        )
        feeds = {k: v.astype(np.int64) for k, v in encoded.items() if k in self._input_names}
        if "token_type_ids" in self._input_names and "token_type_ids" not in feeds:
            feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
        logits = self._session.run(None, feeds)[0].astype(np.float64)
        if self._multi_label:
            probs = 1.0 / (1.0 + np.exp(-np.clip(logits, -40, 40)))
        else:
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs = shifted / shifted.sum(axis=1, keepdims=True)
        out = np.zeros((len(texts), len(GOEMOTIONS_LABELS)))
        for source, target in enumerate(self._columns):
            if target >= 0:
                out[:, target] = np.maximum(out[:, target], probs[:, source])
        return out

    def detect_sync(self, text: str) -> EmotionResult:
        return build_result(self.probabilities([text])[0], self._thresholds, text)

    async def score_texts(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.probabilities, list(texts))

    @timed("emotion_detection")
    async def detect(self, text: str, embedding: list[float] | None = None) -> EmotionResult:
        """`embedding` is ignored: this model reads the text itself."""
        return await asyncio.to_thread(self.detect_sync, text)

    async def health(self) -> ComponentHealth:
        if self._error:
            return ComponentHealth("emotion", self.name, "down", self._error)
        if self._session is None:
            return ComponentHealth("emotion", self.name, "degraded", "not warmed up")
        return ComponentHealth("emotion", self.name, "up", str(self.model_dir))
