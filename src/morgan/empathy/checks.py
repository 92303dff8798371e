"""After-the-fact review of a generated answer against the tone it was asked to take.

The check never blocks or rewrites an answer; its result is stored with the message so bad
patterns can be measured and fed back into prompts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from morgan.empathy.openers import normalize_opener, opening_line
from morgan.empathy.signals import EmotionSignal
from morgan.empathy.tone import ToneDecision
from morgan.text import split_sentences

FlagCode = str  # one of the keys of PENALTIES


class ResponseFlag(msgspec.Struct, frozen=True):
    code: FlagCode
    evidence: str = ""


class ResponseCheck(msgspec.Struct, frozen=True):
    """`score` is 1.0 for a clean answer and drops with each problem found (never below 0)."""

    ok: bool
    flags: tuple[ResponseFlag, ...]
    score: float

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(flag.code for flag in self.flags)


PENALTIES: dict[str, float] = {
    "dismissive": 0.4,
    "condescending": 0.15,
    "missing_acknowledgement": 0.3,
    "saccharine": 0.25,
    "repeated_opener": 0.1,
    "missing_safety_resources": 0.5,
    "cold_refusal": 0.5,
}


def _rx(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


# Wrong in any mood.
_DISMISSIVE = _rx(
    r"\b(?:just\s+)?calm down\b",
    r"\b(?:it|that|this)(?:'s| is) (?:not|no) (?:a |that )?big deal\b",
    r"\bno big deal\b",
    r"\byou should(?:'ve| have)\b",
    r"\b(?:get|got) over it\b",
    r"\byou(?:'re| are) overreacting\b",
    r"\bjust relax\b",
    r"\bdon(?:'t) (?:be|get) (?:so )?(?:upset|worked up|dramatic)\b",
    r"\bit could be worse\b",
    r"(?:^|[.!?]\s+)whatever[.!,]",
)
# Harmless in a neutral exchange ("simply run the installer"), belittling to someone upset.
_CONDESCENDING = _rx(
    r"\bobviously\b",
    r"\bsimply\b",
    r"\bclearly you\b",
    r"\bas i (?:already )?(?:said|mentioned|explained)\b",
    r"\bit(?:'s| is) (?:easy|simple|trivial)\b",
    r"\beveryone knows\b",
)
_SACCHARINE_STRONG = _rx(
    r"\bso+ sorry (?:that )?you(?:'re| are)? feel",
    r"\b(?:truly|deeply|incredibly|terribly) sorry (?:that )?you(?:'re| are)? feel",
    r"\bsending (?:you )?(?:(?:virtual|big) )?(?:hugs|love)\b",
    r"\b(?:big |virtual )?hugs\b",
    r"\byour feelings are (?:so |totally |completely )?valid\b",
    r"\b(?:completely|totally|absolutely) (?:understand|validate) (?:your feelings|how you feel)\b",
    r"!!+",
    r"[\u2764\U0001F496\U0001F970\U0001F917\U0001F495\U0001F60A\U0001F49C\U0001F499]",
)
_SACCHARINE_WEAK = _rx(
    r"\bso+ sorry\b",
    r"\bi (?:completely|totally) understand\b",
    r"\bi(?:'m| am) (?:always )?here for you\b",
    r"\boh no\b",
    r"\byou(?:'ve| have) got this\b",
    r"\bplease know that\b",
)
_ACKNOWLEDGEMENT = _rx(
    r"\b(?:sounds?|seems?|must be|looks?) (?:really |so |pretty |quite |very |a bit |like )?"
    r"(?:a )?(?:frustrat|annoy|irritat|stress|hard|tough|rough|difficult|overwhelm|scar|"
    r"upsett|awful|painful|exhaust|draining|disappoint|worr|a lot|a pain)",
    r"\bi (?:can )?(?:see|hear|understand|get) (?:why|that|how|it|you)\b",
    r"\bi hear you\b",
    r"\b(?:that|this)(?:'s| is) (?:really |so |pretty |a )?(?:frustrating|annoying|"
    r"irritating|a pain|rough|tough|hard|stressful|a lot|disappointing|worrying|maddening)",
    r"\bfair enough\b",
    r"\bunderstandabl[ey]\b",
    r"\bmakes sense (?:that|to)\b",
    r"\bi(?:'m| am) (?:really |so )?sorry\b",
    r"\bsorry (?:about|to hear|that|it)\b",
    r"\bugh\b",
    r"\bi get it\b",
    r"\bglad you (?:told|reached|said)\b",
    r"\bthank you for (?:telling|saying|sharing)\b",
    r"\bno wonder\b",
    r"\bwould (?:bother|annoy|frustrate) (?:me|anyone)\b",
    r"\bfed up\b",
)
_SAFETY_RESOURCES = _rx(
    r"\bemergency\b",
    r"\bcrisis (?:line|hotline|service|team|centre|center)\b",
    r"\b(?:112|911|999|988)\b",
    r"\bhelpline\b",
    r"\bfindahelpline\b",
    r"\bhotline\b",
    r"\bsamaritans\b",
    r"\b(?:call|contact|reach out to) (?:a |your )?(?:doctor|gp|therapist|someone you trust)\b",
)
_COLD_REFUSAL = _rx(
    r"\bi (?:can(?:'t|not)|am unable to|won(?:'t)) (?:help|assist|discuss|talk about)"
    r"(?: you)? with (?:that|this)\b",
    r"\bi(?:'m| am) (?:just )?an ai\b",
    r"\bi(?:'m| am) not able to help\b",
)


def check_response(
    text: str,
    decision: ToneDecision,
    emotion: EmotionSignal,
    recent_openers: Sequence[str] = (),
    *,
    high_intensity: float = 0.6,
) -> ResponseCheck:
    """Flag dismissive, condescending, saccharine, unacknowledging or repetitive replies."""
    flags: list[ResponseFlag] = []
    text = text.replace("\u2019", "'")  # curly apostrophes, so patterns need one spelling

    def first_hit(patterns: Sequence[re.Pattern[str]], haystack: str) -> str | None:
        for pattern in patterns:
            match = pattern.search(haystack)
            if match:
                return match.group(0).strip()
        return None

    if hit := first_hit(_DISMISSIVE, text):
        flags.append(ResponseFlag("dismissive", hit))

    upset = (emotion.is_negative and emotion.intensity >= 0.3) or decision.acknowledge
    if upset and (hit := first_hit(_CONDESCENDING, text)):
        flags.append(ResponseFlag("condescending", hit))

    saccharine = _saccharine_evidence(text, decision)
    if saccharine:
        flags.append(ResponseFlag("saccharine", saccharine))

    needs_acknowledgement = decision.acknowledge and (
        emotion.intensity >= high_intensity or emotion.rising_negative or emotion.crisis
    )
    if needs_acknowledgement and not _acknowledges(text, decision.opener_hint):
        flags.append(ResponseFlag("missing_acknowledgement", opening_line(text)[:120]))

    if recent_openers:
        opener = normalize_opener(opening_line(text))
        first = normalize_opener(opening_line(text, max_sentences=1))
        recent = {normalize_opener(line) for line in recent_openers}
        if opener in recent or first in recent:
            flags.append(ResponseFlag("repeated_opener", opening_line(text)[:120]))

    if decision.tone == "safety" or emotion.crisis:
        if not first_hit(_SAFETY_RESOURCES, text):
            flags.append(ResponseFlag("missing_safety_resources"))
        if hit := first_hit(_COLD_REFUSAL, text):
            flags.append(ResponseFlag("cold_refusal", hit))

    score = max(0.0, 1.0 - sum(PENALTIES[flag.code] for flag in flags))
    return ResponseCheck(ok=not flags, flags=tuple(flags), score=round(score, 3))


def _saccharine_evidence(text: str, decision: ToneDecision) -> str | None:
    for pattern in _SACCHARINE_STRONG:
        if match := pattern.search(text):
            return match.group(0)
    weak = [m.group(0) for p in _SACCHARINE_WEAK if (m := p.search(text))]
    if decision.tone == "safety":
        # "I'm here for you" is right in a crisis; only the strong markers count there.
        return None
    exclamations = text.count("!")
    if len(weak) >= 2 or (weak and exclamations >= 2) or exclamations >= 4:
        return ", ".join(weak) or f"{exclamations} exclamation marks"
    return None


def _acknowledges(text: str, opener_hint: str | None) -> bool:
    head = " ".join(split_sentences(text)[:2])
    if opener_hint and normalize_opener(opener_hint.split(".")[0]) in normalize_opener(head):
        return True
    return any(pattern.search(head) for pattern in _ACKNOWLEDGEMENT)
