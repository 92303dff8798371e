"""Emoji-prediction features from the `nade` package's fastText model (DeepMoji-style).

Nade predicts a distribution over 151 emojis for a text; its Plutchik regressors are
LightGBM models on top of that distribution and cost ~65 ms a message, while the emoji
distribution itself costs well under a millisecond. The head uses the distribution.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import regex

EMOJI_DIMENSION = 151
_PUNCT = regex.compile(r"\s*([\p{P}]+)\s*")
_SPACE = regex.compile(r"\s+")


def nade_preprocess(text: str) -> str:
    """Nade's own preprocessing (spaces around punctuation, lower case), without pyarrow."""
    text = _PUNCT.sub(r" \1 ", text)
    text = _SPACE.sub(" ", text)
    return text.lower().strip()


def nade_model_path() -> Path:
    import nade

    return Path(nade.__path__[0]) / "data" / "socialmedia_en" / "nade_250k_hp.ftz"


class EmojiFeaturizer:
    """Text -> 151 emoji probabilities in a fixed (model label) order."""

    def __init__(self, model_path: Path | None = None) -> None:
        self._model_path = model_path
        self._model: Any = None
        self._index: dict[str, int] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import fasttext

            fasttext.FastText.eprint = lambda *_: None  # silence its load-time warning
            model = fasttext.load_model(str(self._model_path or nade_model_path()))
            labels = model.get_labels()
            if len(labels) != EMOJI_DIMENSION:
                raise RuntimeError(f"nade emoji model has {len(labels)} labels, not 151")
            self._index = {label: i for i, label in enumerate(labels)}
            self._model = model

    def features(self, texts: Sequence[str]):  # -> numpy (n, 151) float32
        import numpy as np

        if self._model is None:
            self.warm_up()
        out = np.zeros((len(texts), EMOJI_DIMENSION), dtype=np.float32)
        if not texts:
            return out
        cleaned = [nade_preprocess(t).replace("\n", " ") for t in texts]
        labels, probs = self._model.predict(cleaned, k=EMOJI_DIMENSION)
        for row, (names, values) in enumerate(zip(labels, probs, strict=False)):
            out[row, [self._index[n] for n in names]] = values
        return out
