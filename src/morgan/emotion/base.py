"""The emotion detector interface and the structs it returns."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from morgan.components import ComponentHealth


class EmotionResult(msgspec.Struct, frozen=True):
    """One message's emotion.

    `label` is one of GoEmotions' 28 labels and `ekman` its Ekman group; `scores` holds all
    28 independent (multi-label) probabilities; `labels` those over their tuned thresholds
    (the top label alone when none is); `intensity`, `valence` and `arousal` are derived
    from the scores as described in docs/emotion.md.
    """

    label: str
    ekman: str
    scores: dict[str, float]
    labels: list[str]
    intensity: float  # [0, 1]
    valence: float  # [-1, 1]
    arousal: float  # [0, 1]


@runtime_checkable
class EmotionDetector(Protocol):
    """Detects emotion in a user message; may reuse the chat path's query embedding."""

    name: str

    def warm_up(self) -> None: ...

    async def detect(self, text: str, embedding: list[float] | None = None) -> EmotionResult: ...

    async def health(self) -> ComponentHealth: ...


class EmotionModelError(Exception):
    """The configured emotion model cannot be loaded or run."""
