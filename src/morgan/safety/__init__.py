"""Safety: the crisis protocol by construction, not by prompt.

When a message carries a crisis signal (`morgan.emotion.detect_crisis`, severity medium or
high), the chat pipeline replies with a `SafetyResponder`'s text instead of an answer: no
retrieval, no document quotes, no model text that has not passed `check_safety_text`. The
help lines come from the locale setting (`MORGAN_SAFETY_LOCALE`, see `resources`).
"""

from __future__ import annotations

from typing import Protocol

from morgan.emotion.crisis import CrisisSignal
from morgan.safety.check import SafetyCheck, check_safety_text
from morgan.safety.compose import compose_safety_response
from morgan.safety.followup import continues_crisis, last_reply
from morgan.safety.reply import FIXED_MODEL, SafetyReply, takes_over
from morgan.safety.resources import HelpResources, UnknownLocale, region_of, resources_for


class SafetyResponder(Protocol):
    """Writes the reply to a crisis message; whatever it returns has passed the check."""

    name: str
    resources: HelpResources

    async def respond(self, message: str, signal: CrisisSignal) -> SafetyReply: ...


from morgan.safety.responders import (  # noqa: E402 - implementations after the interface
    FixedSafetyResponder,
    PersonalisedSafetyResponder,
    build_safety_responder,
)

__all__ = [
    "FIXED_MODEL",
    "FixedSafetyResponder",
    "HelpResources",
    "PersonalisedSafetyResponder",
    "SafetyCheck",
    "SafetyReply",
    "SafetyResponder",
    "UnknownLocale",
    "build_safety_responder",
    "check_safety_text",
    "compose_safety_response",
    "continues_crisis",
    "last_reply",
    "region_of",
    "resources_for",
    "takes_over",
]
