"""The shipped emotion head: a blend of two cheap models.

- an MLP ensemble over [MiniLM query embedding | nade emoji distribution];
- a TF-IDF uni+bigram logistic regression over the raw text.

Probabilities are blended with fixed weights (meta.json `blend`). Inference is plain numpy
(no torch, no scikit-learn at run time).
Artifact layout (written by scripts/train_emotion.py): `weights.npz`, `thresholds.json`,
`meta.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from morgan.emotion.labels import GOEMOTIONS_LABELS
from morgan.emotion.tfidf import TfidfLogistic

DEFAULT_ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
_GELU_C = float(np.sqrt(2.0 / np.pi))


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """The tanh GELU approximation, identical to torch's `GELU(approximate="tanh")`."""
    return 0.5 * x * (1.0 + np.tanh(_GELU_C * (x + 0.044715 * x**3)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


class EmotionHead:
    """Loads an artifact directory and maps feature rows to 28 label probabilities."""

    def __init__(self, artifact_dir: Path | str = DEFAULT_ARTIFACT_DIR) -> None:
        self.artifact_dir = Path(artifact_dir)
        self.meta: dict[str, Any] = json.loads((self.artifact_dir / "meta.json").read_text())
        if tuple(self.meta["labels"]) != GOEMOTIONS_LABELS:
            raise ValueError(f"{self.artifact_dir}: labels differ from GoEmotions' 28")
        thresholds = json.loads((self.artifact_dir / "thresholds.json").read_text())
        self.thresholds = np.array([thresholds[l] for l in GOEMOTIONS_LABELS], dtype=np.float32)
        with np.load(self.artifact_dir / "weights.npz") as npz:
            arrays = {k: npz[k].astype(np.float32) for k in npz.files}
        self.inputs: list[str] = list(self.meta["inputs"])  # e.g. ["minilm", "emoji"]
        self.mean = arrays["input_mean"]
        self.scale = 1.0 / arrays["input_std"]
        self.members = [
            tuple(arrays[f"m{i}_{name}"] for name in ("w1", "b1", "w2", "b2"))
            for i in range(int(self.meta["members"]))
        ]
        self.blend: dict[str, float] = dict(self.meta.get("blend", {"mlp": 1.0}))
        self.tfidf: TfidfLogistic | None = None
        if self.blend.get("tfidf", 0.0) > 0.0:
            with np.load(self.artifact_dir / "tfidf.npz") as npz:
                vocabulary = str(npz["vocabulary"]).split("\n")
                self.tfidf = TfidfLogistic(vocabulary, npz["idf"], npz["coef"], npz["intercept"])

    @property
    def input_dimension(self) -> int:
        return int(self.mean.shape[0])

    def transform_inputs(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """Concatenate feature blocks in the trained order, applying the trained transforms."""
        blocks = []
        for name in self.inputs:
            block = parts[name].astype(np.float32)
            if name == "emoji":
                block = np.sqrt(block)
            blocks.append(block)
        return np.concatenate(blocks, axis=1)

    def mlp_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, input_dimension) raw concatenated features -> (n, 28) MLP probabilities."""
        x = (features - self.mean) * self.scale
        total = np.zeros((x.shape[0], len(GOEMOTIONS_LABELS)), dtype=np.float32)
        for w1, b1, w2, b2 in self.members:
            total += sigmoid(gelu_tanh(x @ w1 + b1) @ w2 + b2)
        return total / len(self.members)

    def predict_proba(self, features: np.ndarray, texts: list[str]) -> np.ndarray:
        """Blended (n, 28) probabilities for texts and their dense features."""
        probs = self.blend.get("mlp", 0.0) * self.mlp_proba(features)
        if self.tfidf is not None:
            probs += self.blend["tfidf"] * sigmoid(self.tfidf.logits(texts))
        return probs
