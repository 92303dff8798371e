"""A reply to Morgan's safety response that says the person is still not safe.

The safety response ends with "Are you safe right now?". An answer like "no", "not really"
or "I have the pills here" carries no crisis cue of its own, yet answering it from the
documents would abandon the person mid-conversation; it gets the safety response again.
Anything else ("thanks, I'll call them — when is the report due?") is answered normally.
"""

from __future__ import annotations

import re

from morgan.emotion.crisis import CrisisKind, CrisisSignal
from morgan.safety.check import DANGER_LINE, normalise

_NOT_SAFE = re.compile(
    r"^\W*(?:no(?! (?:worries|problem|thanks|need|rush))|nope|nah|not really|not at all|"
    r"not sure|i don't know|i do not know|idk|maybe|"
    r"i can not|i cannot|i can't)\b"
    r"|\bnot (?:safe|okay|ok|fine|alright|all right)\b"
    r"|\b(?:i am|i feel|i'm) (?:scared of myself|not going to make it|alone)\b"
)
_MEANS = re.compile(
    r"\b(?:pills?|tablets?|meds|rope|noose|guns?|knife|knives|blades?|razors?|bridge|roof|ledge|"
    r"overdos\w*|poison\w*|bleach|jump\w*|loaded)\b"
)
_HARM_TO_OTHERS_REPLY = "anyone else is in danger now"


def continues_crisis(message: str, previous_reply: str | None) -> CrisisSignal | None:
    """A crisis signal for `message` when it answers a safety response with "not safe"."""
    if not previous_reply:
        return None
    previous = normalise(previous_reply)
    if not DANGER_LINE.search(previous):
        return None
    text = normalise(message)
    cue = _NOT_SAFE.search(text) or _MEANS.search(text)
    if cue is None:
        return None
    kind: CrisisKind = "harm_to_others" if _HARM_TO_OTHERS_REPLY in previous else "self_harm"
    return CrisisSignal(kind=kind, cue=cue.group(0).strip(), severity="medium")


def last_reply(history: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str | None:
    """The last assistant message of a (role, text) history, if any."""
    return next((text for role, text in reversed(history) if role == "assistant"), None)
