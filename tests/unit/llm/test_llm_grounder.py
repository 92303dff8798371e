"""`Grounder`: only sentences a source supports reach the user, cited by that source; echoes,
fake turns, placeholders and system-prompt text never do, streamed or not."""

from __future__ import annotations

import pytest

from morgan.llm.base import SourcePassage
from morgan.llm.grounding import Grounder

SOURCES = (
    SourcePassage(1, "Trip", "We land in Lisbon on May 3. The hotel is near the river."),
    SourcePassage(2, "Budget", "Flights cost 420 euros. The hotel costs 90 euros per night."),
)
SYSTEM = "You are Morgan, a personal assistant running on the user's machine. Canary ZQX-41-CANARY."


def ground(
    text: str,
    *,
    question: str = "How much do the flights cost?",
    sources=SOURCES,
    chunk: int | None = None,
) -> tuple[str, Grounder]:
    grounder = Grounder(sources, question=question, system=SYSTEM)
    pieces: list[str] = []
    step = chunk or len(text) or 1
    for i in range(0, len(text), step):
        pieces += grounder.feed(text[i : i + step])
    pieces += grounder.finish()
    assert "".join(pieces).strip() == grounder.text  # what streamed is what is stored
    return grounder.text, grounder


@pytest.mark.parametrize("chunk", [None, 1, 3, 7])
def test_supported_sentences_are_kept_and_cited_wherever_the_stream_is_cut(
    chunk: int | None,
) -> None:
    text, grounder = ground("Flights cost 420 euros. The capital of France is Paris.", chunk=chunk)
    assert text == "Flights cost 420 euros [2]."
    assert grounder.dropped == 1


def test_a_wrong_or_invented_citation_is_replaced_by_the_supporting_source() -> None:
    assert ground("Flights cost 420 euros [7].")[0] == "Flights cost 420 euros [2]."
    assert ground("Flights cost 420 euros [1].")[0] == "Flights cost 420 euros [2]."
    assert ground("Flights cost 420 euros. [2]")[0] == "Flights cost 420 euros. [2]"


def test_fake_turns_end_the_answer_and_labels_are_dropped() -> None:
    text, grounder = ground(
        "Answer: Flights cost 420 euros.\nQuestion: And the hotel?\n"
        "Answer: The hotel costs 90 euros per night."
    )
    assert text == "Flights cost 420 euros [2]."
    assert grounder.stopped
    assert ground("User: hello\nFlights cost 420 euros.")[0] == ""


def test_echoes_placeholders_and_template_tokens_never_show() -> None:
    text, _ = ground(
        "<start_of_turn>model\nHow much do the flights cost? [n] Flights cost 420 euros [n]."
    )
    assert text == "Flights cost 420 euros [2]."
    assert (
        "[n]" not in ground("The hotel is near the river [n].", question="Where is the hotel?")[0]
    )


def test_system_prompt_text_never_shows() -> None:
    leak = f"{SYSTEM} Flights cost 420 euros."
    text, _ = ground(leak)
    assert text == "Flights cost 420 euros [2]."
    text, _ = ground("hello there", question="hi", sources=())
    assert text == "hello there"
    assert ground("My code is ZQX-41-CANARY.", question="hi", sources=())[0] == ""
    assert (
        ground("You are Morgan, a personal assistant running on it.", question="hi", sources=())[0]
        == ""
    )


def test_small_talk_is_never_cited() -> None:
    text, _ = ground("Hello! Flights cost 420 euros [1].", question="hello", sources=())
    assert text == "Hello! Flights cost 420 euros."


def test_code_is_kept_only_when_a_source_holds_it() -> None:
    sources = (
        SourcePassage(1, "Run", "Start it with\n```\nmorgan serve --port 9\n```\nand wait."),
    )
    assert (
        "morgan serve --port 9"
        in ground(
            "Start it like this:\n```\nmorgan serve --port 9\n```",
            question="How do I start it?",
            sources=sources,
        )[0]
    )
    assert ground("```\nrm -rf /\n```", question="How do I start it?", sources=sources)[0] == ""


# What `attach_citations` (removed: the Grounder replaced it on the chat path) guaranteed,
# held by the Grounder's source matcher: a sentence it cannot vouch for is not shown.
HERMITE = SourcePassage(
    3,
    "Hermitian matrix",
    "Hermitian matrices are named after Charles Hermite, who "
    "demonstrated in 1855 that they always have real eigenvalues.",
)


@pytest.mark.parametrize(
    "answer",
    [
        "Hermitian matrices are named after Charles Hermite in 1925.",  # wrong year
        "Hermitian matrices are named after Joseph Hermite.",  # wrong name
    ],
)
def test_numbers_and_names_missing_from_the_source_are_not_vouched_for(answer: str) -> None:
    sources = (*SOURCES, HERMITE)
    assert ground(answer, question="Who are they named after?", sources=sources)[0] == ""
    assert (
        ground(
            "They are named after Charles Hermite.",
            question="Who are they named after?",
            sources=sources,
        )[0]
        == "They are named after Charles Hermite [3]."
    )


def test_one_shared_word_or_a_heading_is_not_a_claim_a_source_supports() -> None:
    question = "Tell me about the trip."
    assert (
        ground("Lisbon has many old trams, yellow bridges and seven hills.", question=question)[0]
        == ""
    )
    assert ground("Costs:", question=question)[0] == ""
