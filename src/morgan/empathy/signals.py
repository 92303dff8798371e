"""The inputs the tone policy needs, kept independent of the emotion and learning modules.

The emotion detector and the preference store are adapted to these two structs by the chat
pipeline, so empathy can be tested (and reasoned about) without either of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec

# GoEmotions label -> Ekman family (from the dataset's ekman_mapping.json). Used when a signal
# carries a fine label but an unexpected or empty `ekman` value.
EKMAN_OF_LABEL: dict[str, str] = {
    **dict.fromkeys(("anger", "annoyance", "disapproval"), "anger"),
    "disgust": "disgust",
    **dict.fromkeys(("fear", "nervousness"), "fear"),
    **dict.fromkeys(
        (
            "joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
            "relief", "pride", "admiration", "desire", "caring",
        ),
        "joy",
    ),
    **dict.fromkeys(
        ("sadness", "disappointment", "embarrassment", "grief", "remorse"), "sadness"
    ),
    **dict.fromkeys(("surprise", "realization", "confusion", "curiosity"), "surprise"),
    "neutral": "neutral",
}  # fmt: skip

NEGATIVE_FAMILIES = frozenset({"anger", "disgust", "fear", "sadness"})

# Trend values that mean "the user's mood has been getting worse over recent messages".
# ("rising_frustration" is the emotion module's pattern kind for the same thing.)
RISING_NEGATIVE_TRENDS = frozenset(
    {"rising_negative", "rising_frustration", "worsening", "escalating"}
)


class EmotionSignal(msgspec.Struct, frozen=True):
    """What the tone policy needs to know about how the user feels right now.

    `label` is a GoEmotions label, `ekman` its Ekman family, `intensity` in [0, 1],
    `valence` in [-1, 1]; `trend` summarises recent messages (see RISING_NEGATIVE_TRENDS);
    `crisis` is set when the crisis detector fired; `crisis_kind` is "self_harm" (the
    default reading) or "harm_to_others".
    """

    label: str = "neutral"
    ekman: str = "neutral"
    intensity: float = 0.0
    valence: float = 0.0
    trend: str | None = None
    crisis: bool = False
    crisis_kind: str | None = None

    @classmethod
    def neutral(cls) -> EmotionSignal:
        """Used when emotion detection is unavailable: answer plainly rather than guess."""
        return cls()

    @property
    def family(self) -> str:
        """The Ekman family; the fine label is trusted first because it is more specific."""
        if self.label in EKMAN_OF_LABEL:
            return EKMAN_OF_LABEL[self.label]
        if self.ekman in NEGATIVE_FAMILIES or self.ekman in ("joy", "surprise", "neutral"):
            return self.ekman
        return "neutral"

    @property
    def is_negative(self) -> bool:
        return self.family in NEGATIVE_FAMILIES or self.valence <= -0.35

    @property
    def rising_negative(self) -> bool:
        return self.trend in RISING_NEGATIVE_TRENDS


AnswerLength = Literal["short", "detailed"]
Formality = Literal["formal", "casual"]
EmojiUse = Literal["none", "allowed"]


class Preferences(msgspec.Struct, frozen=True):
    """The user's stated preferences that shape tone; `None` means "no preference"."""

    preferred_name: str | None = None
    answer_length: AnswerLength | None = None
    language: str | None = None
    formality: Formality | None = None
    emoji: EmojiUse | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Preferences:
        """Build from stored key -> value pairs, ignoring unknown keys and unusable values.

        Values may be plain strings or objects with a `.value` attribute (such as
        `morgan.learning.Preference`), so the learning module's output can be passed as is.
        """

        def pick(key: str, allowed: tuple[str, ...] | None = None) -> str | None:
            raw = values.get(key)
            raw = getattr(raw, "value", raw)
            if not isinstance(raw, str) or not raw.strip():
                return None
            value = raw.strip()
            if allowed is not None and value not in allowed:
                return None
            return value

        return cls(
            preferred_name=pick("preferred_name"),
            answer_length=pick("answer_length", ("short", "detailed")),  # type: ignore[arg-type]
            language=pick("language"),
            formality=pick("formality", ("formal", "casual")),  # type: ignore[arg-type]
            emoji=pick("emoji", ("none", "allowed")),  # type: ignore[arg-type]
        )
