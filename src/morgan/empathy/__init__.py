"""Empathy: pick the tone, prompt and sampling settings for a reply, and review the reply.

The chat pipeline adapts the emotion detector's result to `EmotionSignal` and the stored
preferences to `Preferences`, calls `TonePolicy.decide` before generating and
`check_response` after.
"""

from morgan.empathy.checks import ResponseCheck, ResponseFlag, check_response
from morgan.empathy.openers import normalize_opener, opening_line
from morgan.empathy.signals import EmotionSignal, Preferences
from morgan.empathy.tone import (
    DEFAULT_PROFILES,
    TONES,
    GenerationProfile,
    Tone,
    ToneDecision,
    TonePolicy,
)

__all__ = [
    "DEFAULT_PROFILES",
    "TONES",
    "EmotionSignal",
    "GenerationProfile",
    "Preferences",
    "ResponseCheck",
    "ResponseFlag",
    "Tone",
    "ToneDecision",
    "TonePolicy",
    "check_response",
    "normalize_opener",
    "opening_line",
]
