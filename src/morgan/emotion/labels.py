"""GoEmotions' label set, its Ekman grouping, and a per-label affect lexicon.

Valence/arousal per label are NRC-VAD-style ratings on [0,1] for the emotion word itself
(Mohammad 2018, rounded), rescaled here: valence to [-1,1]; arousal kept on [0,1].
"""

from __future__ import annotations

from typing import Literal

GOEMOTIONS_LABELS: tuple[str, ...] = (
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
)

Ekman = Literal["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
EKMAN_LABELS: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "joy",
    "sadness",
    "surprise",
    "neutral",
)

# From the dataset's ekman_mapping.json; neutral maps to itself.
EKMAN_GROUPS: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": (
        "joy",
        "amusement",
        "approval",
        "excitement",
        "gratitude",
        "love",
        "optimism",
        "relief",
        "pride",
        "admiration",
        "desire",
        "caring",
    ),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}

EKMAN_OF: dict[str, str] = {
    label: group for group, members in EKMAN_GROUPS.items() for label in members
}

# (valence, arousal) in [0,1], NRC-VAD-style ratings of the label word.
AFFECT_LEXICON: dict[str, tuple[float, float]] = {
    "admiration": (0.89, 0.50),
    "amusement": (0.93, 0.68),
    "anger": (0.17, 0.87),
    "annoyance": (0.20, 0.72),
    "approval": (0.85, 0.42),
    "caring": (0.88, 0.44),
    "confusion": (0.26, 0.62),
    "curiosity": (0.72, 0.70),
    "desire": (0.80, 0.78),
    "disappointment": (0.11, 0.52),
    "disapproval": (0.19, 0.58),
    "disgust": (0.05, 0.78),
    "embarrassment": (0.17, 0.66),
    "excitement": (0.95, 0.93),
    "fear": (0.07, 0.84),
    "gratitude": (0.93, 0.41),
    "grief": (0.07, 0.64),
    "joy": (0.98, 0.82),
    "love": (1.00, 0.62),
    "nervousness": (0.18, 0.80),
    "optimism": (0.92, 0.57),
    "pride": (0.83, 0.68),
    "realization": (0.64, 0.50),
    "relief": (0.82, 0.26),
    "remorse": (0.10, 0.52),
    "sadness": (0.05, 0.29),
    "surprise": (0.72, 0.86),
    "neutral": (0.50, 0.20),
}
