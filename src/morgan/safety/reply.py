"""What a safety responder returns, and when the safety response takes over a turn."""

from __future__ import annotations

from typing import Any

import msgspec

from morgan.emotion.crisis import CrisisKind, CrisisSignal, Severity
from morgan.safety.check import SafetyCheck

FIXED_MODEL = "morgan-safety"


class SafetyReply(msgspec.Struct, frozen=True, kw_only=True):
    """The checked text the person sees; `rejected` lists why LLM wording was not used."""

    text: str
    kind: CrisisKind
    severity: Severity
    locale: str
    model: str
    check: SafetyCheck
    personalised: bool = False
    rejected: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """What is stored with the turn (`response_check`); the text itself is the message."""
        fields = msgspec.to_builtins(self)
        del fields["text"]
        return {"safety": fields}


def takes_over(signal: CrisisSignal | None) -> bool:
    """Medium and high signals get the safety response instead of an answer.

    `low` is a negated mention ("I would never kill myself", "I'm not suicidal, just
    stressed"): the person is answered normally, in the safety tone of the empathy policy,
    because replacing their question with a crisis script would not listen to what they said.
    """
    return signal is not None and signal.severity in ("medium", "high")
