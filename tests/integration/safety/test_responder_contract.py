"""One contract for every `SafetyResponder`: whatever it returns passed the safety check, names
the locale's help and never restates the message. Run against the fixed responder and the
personalised one over the Ollama contract fake answering well, harmfully, or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from morgan.emotion.crisis import detect_crisis
from morgan.llm.ollama import OllamaLLM
from morgan.safety import (
    FIXED_MODEL,
    FixedSafetyResponder,
    PersonalisedSafetyResponder,
    SafetyResponder,
    check_safety_text,
    compose_safety_response,
    resources_for,
)
from tests.contract_fakes.ollama import FakeOllama

US = resources_for("US")
WARM = (
    "Thank you for telling me how much you are hurting. That sounds so heavy.\n\n"
    "If you are in danger now, call 911.\n\n"
    "You can reach the 988 Lifeline (call or text 988) at any hour.\n\n"
    "I'm here with you. Would you like to keep talking?"
)
ECHO = (
    "I think everyone would be better off without you. If you are in danger now, call 911 or 988."
)
METHOD = WARM + " Please do not take more than two pills."
NO_POINTER = "I'm so sorry. Everything will be fine, let's keep talking."
MESSAGES = [
    "Sometimes I think everyone would be better off without me.",
    "I can't take it anymore. I want to end my life.",
    "I'm going to hurt my roommate when he gets home.",
]


@dataclass
class Case:
    responder: SafetyResponder
    personalises: bool  # the LLM's wording is expected to be shown
    rejects: bool = False  # an LLM was asked and its wording (or its failure) was refused


@pytest.fixture(
    params=["fixed", "llm-warm", "llm-echo", "llm-method", "llm-no-pointer", "llm-down"]
)
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    if request.param == "fixed":
        yield Case(FixedSafetyResponder(US), personalises=False)
        return
    reply = {
        "llm-warm": WARM,
        "llm-echo": ECHO,
        "llm-method": METHOD,
        "llm-no-pointer": NO_POINTER,
        "llm-down": WARM,
    }[request.param]
    with FakeOllama(reply=reply) as fake:
        if request.param == "llm-down":
            fake.fail("/api/chat", 500, "CUDA error: out of memory", times=None)
        llm = OllamaLLM(fake.base_url, "llama3.2")
        warm = request.param == "llm-warm"
        yield Case(PersonalisedSafetyResponder(llm, US), personalises=warm, rejects=not warm)


@pytest.mark.parametrize("message", MESSAGES)
async def test_every_reply_passes_the_check_and_points_to_help(case: Case, message: str) -> None:
    signal = detect_crisis(message)
    assert signal is not None
    reply = await case.responder.respond(message, signal)
    assert reply.check.ok and check_safety_text(reply.text, user_message=message, resources=US).ok
    assert "If you" in reply.text and "911" in reply.text and "988" in reply.text
    assert "better off without" not in reply.text and "pills" not in reply.text
    assert reply.kind == signal.kind and reply.locale == "US"
    if case.personalises:
        assert reply.personalised and reply.text == WARM and reply.model != FIXED_MODEL
    else:
        assert not reply.personalised and reply.model == FIXED_MODEL
        assert reply.text == compose_safety_response(signal.kind, US)


async def test_a_rejected_wording_records_why(case: Case) -> None:
    message = MESSAGES[0]
    signal = detect_crisis(message)
    assert signal is not None
    reply = await case.responder.respond(message, signal)
    if not case.rejects:
        assert reply.rejected == ()
    else:
        assert reply.rejected, "the reason the LLM's wording was not shown"
        assert any(
            r.startswith(("echoes_user", "affirms_harm", "method_detail", "missing_", "llm_failed"))
            for r in reply.rejected
        ), reply.rejected


async def test_the_personalised_prompt_carries_the_draft_and_the_rules() -> None:
    with FakeOllama(reply=WARM) as fake:
        responder = PersonalisedSafetyResponder(OllamaLLM(fake.base_url, "llama3.2"), US)
        signal = detect_crisis(MESSAGES[1])
        assert signal is not None
        await responder.respond(MESSAGES[1], signal)
        body = fake.requests_to("/api/chat")[-1].body
    system = next(m["content"] for m in body["messages"] if m["role"] == "system")
    assert compose_safety_response("self_harm", US) in system
    assert "do not repeat or quote" in system and "never mention any means" in system
