"""Choosing how Morgan should sound from how the user feels and what they asked for."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

from morgan.empathy import prompts
from morgan.empathy.openers import choose_opener
from morgan.empathy.signals import EmotionSignal, Preferences

Tone = Literal["neutral", "supportive", "calm_practical", "warm_light", "safety"]
TONES: tuple[Tone, ...] = ("neutral", "supportive", "calm_practical", "warm_light", "safety")


class GenerationProfile(msgspec.Struct, frozen=True):
    """Sampling settings for one tone, before preferences adjust `max_tokens`."""

    max_tokens: int
    temperature: float
    top_p: float


# Concise and cooler under pressure, a little warmer for good moods, most deterministic in a
# crisis (the safety reply must not wander).
DEFAULT_PROFILES: dict[Tone, GenerationProfile] = {
    "neutral": GenerationProfile(max_tokens=512, temperature=0.3, top_p=0.9),
    "supportive": GenerationProfile(max_tokens=448, temperature=0.4, top_p=0.9),
    "calm_practical": GenerationProfile(max_tokens=320, temperature=0.2, top_p=0.85),
    "warm_light": GenerationProfile(max_tokens=512, temperature=0.55, top_p=0.95),
    "safety": GenerationProfile(max_tokens=320, temperature=0.1, top_p=0.8),
}

SHORT_MAX_TOKENS = 160
DETAILED_MAX_TOKENS = 1024


class ToneDecision(msgspec.Struct, frozen=True):
    """How to answer this turn: the system prompt fragment plus sampling settings.

    `reasons` records which rules fired, for logs and for explaining a reply afterwards.
    """

    tone: Tone
    acknowledge: bool
    opener_hint: str | None
    system_instructions: str
    max_tokens: int
    temperature: float
    top_p: float
    reasons: tuple[str, ...] = ()


_FAMILY_TONE: dict[str, Tone] = {
    "anger": "calm_practical",
    "disgust": "calm_practical",
    "fear": "calm_practical",
    "sadness": "supportive",
    "joy": "warm_light",
    "surprise": "neutral",
    "neutral": "neutral",
}

_OPENER_FAMILY: dict[str, str] = {
    "anger": "anger",
    "disgust": "anger",
    "fear": "stress",
    "sadness": "sadness",
    "joy": "joy",
}


class TonePolicy:
    """Rules from emotion + preferences to a ToneDecision; pure apart from opener variety.

    `seed` makes opener choice reproducible (tests); thresholds are on emotion intensity.
    """

    def __init__(
        self,
        *,
        profiles: Mapping[Tone, GenerationProfile] | None = None,
        crisis_resources: str = prompts.DEFAULT_CRISIS_RESOURCES,
        min_intensity: float = 0.3,
        high_intensity: float = 0.6,
        seed: int | None = None,
    ) -> None:
        self._profiles = {**DEFAULT_PROFILES, **(profiles or {})}
        self._crisis_resources = crisis_resources
        self._min_intensity = min_intensity
        self._high_intensity = high_intensity
        self._rng = random.Random(seed)

    def decide(
        self,
        emotion: EmotionSignal,
        preferences: Preferences | None = None,
        recent_openers: Sequence[str] = (),
        *,
        safety_instructions: str | None = None,
    ) -> ToneDecision:
        """`safety_instructions` replaces the built-in crisis rule when the crisis detector
        supplies its own (e.g. `morgan.emotion.safety_protocol_instructions`)."""
        preferences = preferences or Preferences()
        reasons: list[str] = []
        tone, acknowledge, building = self._tone_and_acknowledgement(emotion, reasons)

        opener_hint = None
        opener_family = "safety" if tone == "safety" else _OPENER_FAMILY.get(emotion.family)
        if tone == "calm_practical" and opener_family is None:
            opener_family = "anger"  # rising frustration carried by a neutral-looking message
        if opener_family is not None and (acknowledge or tone == "warm_light"):
            opener_hint = choose_opener(
                opener_family, recent_openers, self._rng, name=preferences.preferred_name
            )

        profile = self._profiles[tone]
        max_tokens = profile.max_tokens
        if preferences.answer_length == "short" and tone != "safety":
            max_tokens = min(max_tokens, SHORT_MAX_TOKENS)
            reasons.append("preference:short")
        elif preferences.answer_length == "detailed" and tone != "safety":
            max_tokens = max(max_tokens, DETAILED_MAX_TOKENS)
            reasons.append("preference:detailed")

        tone_rule = self._tone_rule(tone, emotion, safety_instructions)
        instructions = self._instructions(
            tone_rule, tone, acknowledge, building, opener_hint, preferences
        )
        return ToneDecision(
            tone=tone,
            acknowledge=acknowledge,
            opener_hint=opener_hint,
            system_instructions=instructions,
            max_tokens=max_tokens,
            temperature=profile.temperature,
            top_p=profile.top_p,
            reasons=tuple(reasons),
        )

    def _tone_and_acknowledgement(
        self, emotion: EmotionSignal, reasons: list[str]
    ) -> tuple[Tone, bool, bool]:
        """Returns (tone, acknowledge, frustration-is-building)."""
        if emotion.crisis:
            reasons.append("crisis")
            return "safety", True, False

        family = emotion.family
        building = emotion.rising_negative
        felt = emotion.intensity >= self._min_intensity
        if not felt and not building:
            reasons.append("low_intensity")
            return "neutral", False, False

        tone = _FAMILY_TONE.get(family, "neutral")
        if building and tone in ("neutral", "warm_light"):
            tone = "calm_practical"
        reasons.append(f"family:{family}")

        acknowledge = False
        if family == "anger" and felt:
            acknowledge = True
            reasons.append("acknowledge:anger")
        if emotion.is_negative and emotion.intensity >= self._high_intensity:
            acknowledge = True
            reasons.append("acknowledge:high_intensity")
        if building:
            acknowledge = True
            reasons.append("acknowledge:rising_trend")
        return tone, acknowledge, building

    def _tone_rule(
        self, tone: Tone, emotion: EmotionSignal, safety_instructions: str | None
    ) -> str:
        if tone != "safety":
            return prompts.TONE_RULES[tone]
        if safety_instructions:
            return safety_instructions
        if emotion.crisis_kind == "harm_to_others":
            return prompts.SAFETY_HARM_TO_OTHERS.format(crisis_resources=self._crisis_resources)
        return prompts.TONE_RULES["safety"].format(crisis_resources=self._crisis_resources)

    def _instructions(
        self,
        tone_rule: str,
        tone: Tone,
        acknowledge: bool,
        building: bool,
        opener_hint: str | None,
        preferences: Preferences,
    ) -> str:
        sections = [prompts.IDENTITY, prompts.GROUNDING_RULES, prompts.BASE_STYLE, tone_rule]
        if acknowledge and tone != "safety":
            sections.append(prompts.ACKNOWLEDGE_BRIEFLY)
        if building:
            sections.append(prompts.ACKNOWLEDGE_BUILDING)
        if opener_hint:
            sections.append(prompts.OPENER_HINT.format(hint=opener_hint))
        sections.extend(_preference_rules(preferences, tone))
        return "\n\n".join(sections)


def _preference_rules(preferences: Preferences, tone: Tone) -> list[str]:
    rules: list[str] = []
    if preferences.preferred_name:
        rules.append(prompts.NAME_RULE.format(name=preferences.preferred_name))
    # In a crisis the safety message must not be cut short by a brevity preference.
    if preferences.answer_length == "short" and tone != "safety":
        rules.append(prompts.BREVITY_RULE)
    elif preferences.answer_length == "detailed" and tone != "safety":
        rules.append(prompts.DETAIL_RULE)
    if preferences.language:
        rules.append(prompts.LANGUAGE_RULE.format(language=preferences.language))
    if preferences.formality == "formal":
        rules.append(prompts.FORMAL_RULE)
    elif preferences.formality == "casual":
        rules.append(prompts.CASUAL_RULE)
    if preferences.emoji == "none" or tone == "safety":
        rules.append(prompts.NO_EMOJI_RULE)
    elif preferences.emoji == "allowed":
        rules.append(prompts.EMOJI_OK_RULE)
    else:
        rules.append(prompts.DEFAULT_EMOJI_RULE)
    return ["Preferences: " + " ".join(rules)] if rules else []
