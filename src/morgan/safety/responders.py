"""The two safety responders: the fixed response, and LLM wording accepted only if it passes.

Personalisation is off by default (`MORGAN_SAFETY_PERSONALISE`): a small local model rarely
writes a reply that passes the check, and the fixed response is the one that was reviewed.
Either way the person sees text that passed `check_safety_text`, and nothing is streamed
before that.
"""

from __future__ import annotations

import asyncio

import structlog

from morgan.emotion.crisis import CrisisSignal
from morgan.llm.base import LLM, GenerationRequest
from morgan.safety.check import SafetyCheck, check_safety_text
from morgan.safety.compose import compose_safety_response
from morgan.safety.reply import FIXED_MODEL, SafetyReply
from morgan.safety.resources import HelpResources, resources_for

log = structlog.get_logger(__name__)

PERSONALISE_TIMEOUT_S = 20.0
PERSONALISE_MAX_TOKENS = 220

_PERSONALISE_SYSTEM = (
    "You are Morgan. The person you are talking with may be in crisis. Rewrite the draft reply "
    "below so it sounds warm, calm and personal, in your own words. Rules: do not repeat or "
    "quote what they wrote; never mention any means, methods, amounts or places; keep the "
    'sentence that starts with "If you" and every phone number and website exactly as in the '
    "draft; end by inviting them to keep talking. Reply with the rewritten message only.\n\n"
    "Draft reply:\n{draft}"
)


class FixedSafetyResponder:
    """Always Morgan's fixed, reviewed response for the locale."""

    name = "fixed"

    def __init__(self, resources: HelpResources | None = None) -> None:
        self.resources = resources or resources_for("")

    async def respond(self, message: str, signal: CrisisSignal) -> SafetyReply:
        return self._fixed(message, signal)

    def _fixed(
        self, message: str, signal: CrisisSignal, rejected: tuple[str, ...] = ()
    ) -> SafetyReply:
        text = compose_safety_response(signal.kind, self.resources)
        return SafetyReply(
            text=text,
            kind=signal.kind,
            severity=signal.severity,
            locale=self.resources.locale,
            model=FIXED_MODEL,
            rejected=rejected,
            check=check_safety_text(text, user_message=message, resources=self.resources),
        )


class PersonalisedSafetyResponder(FixedSafetyResponder):
    """Asks `llm` to reword the fixed response; shows it only if it passes the check."""

    name = "personalised"

    def __init__(
        self,
        llm: LLM,
        resources: HelpResources | None = None,
        *,
        timeout_s: float = PERSONALISE_TIMEOUT_S,
    ) -> None:
        super().__init__(resources)
        self.llm = llm
        self.timeout_s = timeout_s

    async def respond(self, message: str, signal: CrisisSignal) -> SafetyReply:
        draft = compose_safety_response(signal.kind, self.resources)
        request = GenerationRequest(
            question=message,
            system=_PERSONALISE_SYSTEM.format(draft=draft),
            max_tokens=PERSONALISE_MAX_TOKENS,
            temperature=0.3,
            top_p=0.9,
        )
        try:
            generation = await asyncio.wait_for(self.llm.generate(request), self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - any failure means the fixed response
            log.warning("safety_personalise_failed", error=repr(exc)[:200])
            return self._fixed(message, signal, ("llm_failed",))
        candidate = generation.text.strip()
        check: SafetyCheck = check_safety_text(
            candidate, user_message=message, resources=self.resources
        )
        if not check.ok:
            log.info("safety_personalise_rejected", problems=list(check.problems))
            return self._fixed(message, signal, check.problems)
        return SafetyReply(
            text=candidate,
            kind=signal.kind,
            severity=signal.severity,
            locale=self.resources.locale,
            model=generation.model or self.llm.name,
            personalised=True,
            check=check,
        )


def build_safety_responder(
    locale: str, *, personalise: bool = False, llm: LLM | None = None
) -> FixedSafetyResponder:
    """The responder the settings ask for; raises UnknownLocale on a malformed locale."""
    resources = resources_for(locale)
    if personalise and llm is not None:
        return PersonalisedSafetyResponder(llm, resources)
    return FixedSafetyResponder(resources)
