"""Choosing the emotion detector from settings."""

from __future__ import annotations

import os
from pathlib import Path

from morgan.emotion.base import EmotionDetector
from morgan.emotion.detector import EmbeddingHeadDetector
from morgan.emotion.onnx_detector import OnnxEmotionDetector
from morgan.llm.base import Embedder
from morgan.llm.minilm import MiniLMEmbedder

MODEL_ENV_VAR = "MORGAN_EMOTION_MODEL"


def build_detector(
    model: str | Path | None = None,
    *,
    artifact_dir: str | Path | None = None,
    embedder: Embedder | MiniLMEmbedder | None = None,
    onnx_threads: int = 1,
) -> EmotionDetector:
    """An ONNX model directory when `model` (default: $MORGAN_EMOTION_MODEL) is set,
    otherwise the shipped MiniLM head. Pass `embedder` only if it yields all-MiniLM-L6-v2
    vectors (the head was trained on them); otherwise the detector loads its own copy.
    """
    if model is None:
        model = os.environ.get(MODEL_ENV_VAR) or None
    if model:
        return OnnxEmotionDetector(Path(model), threads=onnx_threads)
    return EmbeddingHeadDetector(artifact_dir=artifact_dir, embedder=embedder)
