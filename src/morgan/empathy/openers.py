"""Opening lines that acknowledge a feeling without sounding scripted.

Openers are composed from a short acknowledgement and a bridge to the answer, which gives
dozens of distinct lines per tone; a line the user has already seen recently is never
offered again, and when every line has been used the policy offers none rather than repeat.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterable, Sequence

from morgan.text import split_sentences

# (acknowledgements, bridges) per opener family. Plain, short, at most one "!" — never gushing.
_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "anger": (
        (
            "That sounds frustrating.",
            "That's annoying, I get it.",
            "Fair enough to be fed up with that.",
            "That would bother me too.",
            "Yeah, that's a pain.",
            "Understandable that this is irritating.",
            "That's a frustrating one.",
            "I can see why that's getting to you.",
        ),
        (
            "Here's what should fix it.",
            "Let's sort it out.",
            "Here's the short version.",
            "Let's get straight to it.",
            "Here's what I'd try first.",
            "Let's fix it step by step.",
        ),
    ),
    "stress": (
        (
            "That sounds stressful.",
            "That's a lot to deal with.",
            "Okay, that's a tight spot.",
            "That sounds like a lot at once.",
            "I can see why that's worrying.",
            "That's an uneasy situation.",
            "Understandable to feel on edge about that.",
        ),
        (
            "Let's take it one step at a time.",
            "Here's a clear plan.",
            "Here's what matters most.",
            "Let's start with the first step.",
            "Here's the practical part.",
            "Let's keep it simple.",
        ),
    ),
    "sadness": (
        (
            "That sounds hard.",
            "I'm sorry, that's a rough one.",
            "That's a lot to carry.",
            "That sounds disappointing.",
            "That's tough.",
            "I'm sorry it went that way.",
            "That sounds really draining.",
        ),
        (
            "Here's what I found.",
            "Let's look at it together.",
            "Here's what might help.",
            "Let's see what we can do.",
            "Here's where things stand.",
            "Take what's useful from this.",
        ),
    ),
    "joy": (
        (
            "Nice!",
            "Good news.",
            "Love that.",
            "That's great to hear.",
            "Oh, fun.",
            "Sounds like a good day.",
            "Well done.",
            "That's a nice one.",
        ),
        (
            "Here's what I found.",
            "Here's the answer.",
            "Let's dig in.",
            "Here's the rest of it.",
            "On to your question.",
            "Here's what your notes say.",
        ),
    ),
    "safety": (
        (
            "I'm glad you told me.",
            "Thank you for telling me this.",
            "I hear you, and I'm taking this seriously.",
            "I'm really glad you reached out.",
            "Thank you for saying this out loud.",
            "I'm here, and I'm listening.",
        ),
        (
            "Your safety matters most right now.",
            "You don't have to handle this alone.",
            "Let's focus on keeping you safe.",
            "Right now, what matters is you.",
            "Let's take the next step together.",
        ),
    ),
}

OPENER_FAMILIES: tuple[str, ...] = tuple(_POOLS)

_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def normalize_opener(text: str) -> str:
    """Comparison key for "the same opener": case, punctuation and spacing are ignored."""
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text.casefold())).strip()


def opening_line(response: str, max_sentences: int = 2) -> str:
    """The first sentence(s) of a generated answer, for the `recent_openers` history.

    Two sentences because openers are "acknowledgement. bridge." pairs.
    """
    return " ".join(split_sentences(response)[:max_sentences])


def candidate_openers(family: str, name: str | None = None) -> list[str]:
    """Every opener of a family, optionally addressing the user by name."""
    acknowledgements, bridges = _POOLS[family]
    lines = [f"{ack} {bridge}" for ack in acknowledgements for bridge in bridges]
    if name:
        lines += [f"{name}, {ack[0].lower()}{ack[1:]} {bridge}" for ack in acknowledgements[:3]
                  for bridge in bridges]  # fmt: skip
    return lines


def choose_opener(
    family: str,
    recent_openers: Sequence[str],
    rng: random.Random,
    name: str | None = None,
) -> str | None:
    """Pick an opener that matches none of the recent ones, and avoids the last one's shape.

    Returns None when every candidate was used recently: no hint beats a repeated one.
    """
    recent = {normalize_opener(line) for line in recent_openers}
    fresh = [line for line, key in _normalized_candidates(family, name) if key not in recent]
    if not fresh:
        return None
    last = normalize_opener(recent_openers[-1]) if recent_openers else ""
    varied = [line for line in fresh if not _shares_part(line, last)]
    return rng.choice(varied or fresh)


@functools.lru_cache(maxsize=256)
def _normalized_candidates(family: str, name: str | None) -> tuple[tuple[str, str], ...]:
    return tuple((line, normalize_opener(line)) for line in candidate_openers(family, name))


def _shares_part(line: str, previous_normalized: str) -> bool:
    """True when `line` reuses the acknowledgement or the bridge of the previous opener."""
    if not previous_normalized:
        return False
    return any(part and part in previous_normalized for part in _parts(line))


def _parts(line: str) -> Iterable[str]:
    for sentence in split_sentences(line):
        yield normalize_opener(sentence)
