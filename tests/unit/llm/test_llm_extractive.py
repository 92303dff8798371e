from __future__ import annotations

import pytest

from morgan.llm import LLM
from morgan.llm.base import GenerationRequest, SourcePassage
from morgan.llm.extractive import NOT_FOUND, ExtractiveLLM, cite, split_sentences

SOURCES = (
    SourcePassage(
        1,
        "Trip",
        "We land in Lisbon on May 3. The hotel is near the river. Dr. Silva recommended the tram.",
    ),
    SourcePassage(2, "Budget", "Flights cost 420 euros. The hotel costs 90 euros per night."),
)


def ask(question: str, **kwargs: object) -> GenerationRequest:
    return GenerationRequest(question=question, sources=SOURCES, **kwargs)  # type: ignore[arg-type]


async def test_answers_with_the_matching_sentence_and_its_citation() -> None:
    generation = await ExtractiveLLM().generate(ask("How much do the flights cost?"))
    assert generation.text.startswith("Flights cost 420 euros [2].")


async def test_cites_each_sentence_with_its_own_source() -> None:
    text = (await ExtractiveLLM().generate(ask("Where is the hotel and what does it cost?"))).text
    assert "The hotel is near the river [1]." in text
    assert "The hotel costs 90 euros per night [2]." in text


@pytest.mark.parametrize("question", ["Who won the 1998 world cup?", "what is it?", ""])
async def test_says_so_when_nothing_matches(question: str) -> None:
    assert (await ExtractiveLLM().generate(ask(question))).text == NOT_FOUND


async def test_no_sources() -> None:
    text = (await ExtractiveLLM().generate(GenerationRequest(question="hotel cost?"))).text
    assert text == NOT_FOUND


async def test_stream_yields_sentences_and_matches_generate() -> None:
    llm = ExtractiveLLM()
    request = ask("Where is the hotel and what does it cost?")
    deltas = [d async for d in llm.stream(request)]
    assert len(deltas) >= 2
    assert "".join(deltas) == (await llm.generate(request)).text


async def test_deterministic_and_bounded() -> None:
    llm = ExtractiveLLM(max_sentences=1)
    first = (await llm.generate(ask("hotel river euros tram Lisbon"))).text
    assert first == (await llm.generate(ask("hotel river euros tram Lisbon"))).text
    assert first.count("[") == 1


def test_is_an_llm_and_always_healthy() -> None:
    assert isinstance(ExtractiveLLM(), LLM)


def test_sentence_splitting_and_citing() -> None:
    assert split_sentences("Dr. Silva came. Then 3 more!\n\n- a list item") == [
        "Dr. Silva came.",
        "Then 3 more!",
        "- a list item",
    ]
    assert cite("It is near.", 4) == "It is near [4]."
    assert cite("No stop", 2) == "No stop [2]"
