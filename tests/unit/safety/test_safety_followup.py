"""After the safety response, "no" / "not really" / a mention of means is still a crisis."""

from __future__ import annotations

import pytest

from morgan.safety import compose_safety_response, continues_crisis, last_reply, resources_for

OWN = compose_safety_response("self_harm", resources_for(""))
OTHERS = compose_safety_response("harm_to_others", resources_for("US"))


@pytest.mark.parametrize(
    "message",
    [
        "no",
        "No.",
        "not really",
        "idk",
        "I'm not safe",
        "I have the pills right here",
        "I don't know",
        "nope, not okay",
    ],
)
def test_not_safe_after_the_safety_response_is_a_crisis(message: str) -> None:
    signal = continues_crisis(message, OWN)
    assert signal is not None and signal.kind == "self_harm" and signal.severity == "medium"


def test_the_kind_follows_the_previous_response() -> None:
    signal = continues_crisis("no", OTHERS)
    assert signal is not None and signal.kind == "harm_to_others"


@pytest.mark.parametrize(
    "message",
    [
        "yes, I'm ok now",
        "Thanks. When is the quarterly report due?",
        "yes",
        "no worries, how do I export the report?",
    ],
)
def test_anything_else_is_answered_normally(message: str) -> None:
    assert continues_crisis(message, OWN) is None


def test_only_a_safety_response_before_counts() -> None:
    assert continues_crisis("no", "Tomatoes need six hours of sun [1].") is None
    assert continues_crisis("no", None) is None


def test_last_reply_is_the_last_assistant_message() -> None:
    history = [("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d")]
    assert last_reply(history) == "d"
    assert last_reply([("user", "a")]) is None
