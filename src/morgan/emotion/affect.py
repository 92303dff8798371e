"""From 28 label probabilities to one label, intensity, valence and arousal.

Mapping (documented in docs/emotion.md):
- valence = probability-weighted mean of the labels' lexicon valence, rescaled to [-1,1];
- arousal = probability-weighted mean of the labels' lexicon arousal, in [0,1];
- intensity = strength of the strongest non-neutral emotion, raised for high-arousal labels
  and for typographic emphasis (!!, CAPS, "so"/"really"), capped at 1.
"""

from __future__ import annotations

import re

import numpy as np

from morgan.emotion.base import EmotionResult
from morgan.emotion.labels import AFFECT_LEXICON, EKMAN_OF, GOEMOTIONS_LABELS

_VALENCE = np.array([2 * AFFECT_LEXICON[l][0] - 1 for l in GOEMOTIONS_LABELS], dtype=np.float64)
_AROUSAL = np.array([AFFECT_LEXICON[l][1] for l in GOEMOTIONS_LABELS], dtype=np.float64)
_NEUTRAL = GOEMOTIONS_LABELS.index("neutral")
_INTENSIFIERS = re.compile(
    r"\b(?:so|very|really|extremely|absolutely|totally|completely|incredibly|super|fucking|"
    r"freaking|utterly|deeply|terribly|insanely)\b",
    re.IGNORECASE,
)
_SHOUTED = re.compile(r"\b[A-Z]{3,}\b")


def emphasis(text: str) -> float:
    """Typographic emphasis in [0,1]: exclamations, shouted words, intensifier adverbs."""
    score = 0.0
    score += min(text.count("!"), 3) / 3 * 0.4
    words = max(len(text.split()), 1)
    shouted = len(_SHOUTED.findall(text))
    score += min(shouted / words * 3, 1.0) * 0.3
    score += min(len(_INTENSIFIERS.findall(text)), 2) / 2 * 0.3
    return min(score, 1.0)


def intensity_of(probs: np.ndarray, text: str) -> float:
    emotional = probs.copy()
    emotional[_NEUTRAL] = 0.0
    top = int(emotional.argmax())
    base = float(emotional[top]) * (0.6 + 0.4 * _AROUSAL[top])
    return float(np.clip(base * (1.0 + 0.5 * emphasis(text)), 0.0, 1.0))


def build_result(probs: np.ndarray, thresholds: np.ndarray, text: str) -> EmotionResult:
    """The result for one message from its 28 probabilities and the tuned thresholds."""
    probs = np.asarray(probs, dtype=np.float64)
    over = np.flatnonzero(probs >= thresholds)
    if over.size:
        over = over[np.argsort(-probs[over])]
        top = int(over[0])
    else:
        top = int(probs.argmax())
        over = np.array([top])
    weights = probs / max(float(probs.sum()), 1e-9)
    label = GOEMOTIONS_LABELS[top]
    return EmotionResult(
        label=label,
        ekman=EKMAN_OF[label],
        scores={l: round(float(p), 4) for l, p in zip(GOEMOTIONS_LABELS, probs, strict=False)},
        labels=[GOEMOTIONS_LABELS[i] for i in over],
        intensity=round(intensity_of(probs, text), 4),
        valence=round(float(np.clip(weights @ _VALENCE, -1.0, 1.0)), 4),
        arousal=round(float(np.clip(weights @ _AROUSAL, 0.0, 1.0)), 4),
    )
