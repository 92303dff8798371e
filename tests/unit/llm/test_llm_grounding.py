from __future__ import annotations

import pytest

from morgan.llm.base import SourcePassage
from morgan.llm.citations import clean_citations
from morgan.llm.extractive import NOT_FOUND
from morgan.llm.grounding import attach_citations

SOURCES = (
    SourcePassage(
        1,
        "Trip",
        "We land in Lisbon on May 3. The hotel is near the river. Dr. Silva recommended the tram.",
    ),
    SourcePassage(2, "Budget", "Flights cost 420 euros. The hotel costs 90 euros per night."),
    SourcePassage(
        3,
        "Hermitian matrix",
        "Hermitian matrices are named after Charles Hermite, who "
        "demonstrated in 1855 that they always have real eigenvalues.",
    ),
)


def test_each_uncited_sentence_gets_the_source_it_came_from() -> None:
    text, added = attach_citations(
        "The flights cost 420 euros. The hotel is close to the river. They are named after Charles Hermite.",
        SOURCES,
    )
    assert text == (
        "The flights cost 420 euros [2]. The hotel is close to the river [1]. "
        "They are named after Charles Hermite [3]."
    )
    assert added == 3


def test_a_sentence_no_source_supports_stays_uncited() -> None:
    answer = "The capital of France is Paris. Flights cost 420 euros."
    text, added = attach_citations(answer, SOURCES)
    assert text == "The capital of France is Paris. Flights cost 420 euros [2]."
    assert added == 1


def test_one_shared_word_is_not_enough_to_cite() -> None:
    answer = "Lisbon has many old trams, yellow bridges and seven famous hills."
    assert attach_citations(answer, SOURCES) == (answer, 0)


@pytest.mark.parametrize(
    "answer",
    [
        "The hotel costs 90 euros per night [2].",
        "The hotel costs 90 euros per night. [2]",
        "The hotel costs 90 euros per night [1, 2].",
    ],
)
def test_sentences_that_already_cite_are_left_alone(answer: str) -> None:
    assert attach_citations(answer, SOURCES) == (answer, 0)


def test_layout_code_and_existing_markers_are_preserved() -> None:
    answer = (
        "Costs:\n\n- Flights cost 420 euros.\n- The hotel costs 90 euros per night [2].\n\n"
        "```\nThe hotel costs 90 euros per night.\n```\nDone!"
    )
    text, added = attach_citations(answer, SOURCES)
    assert added == 1
    assert text == answer.replace("- Flights cost 420 euros.", "- Flights cost 420 euros [2].", 1)


def test_last_sentence_without_a_stop_is_cited_at_its_end() -> None:
    assert attach_citations(
        "Charles Hermite showed in 1855 they have real eigenvalues", SOURCES
    ) == ("Charles Hermite showed in 1855 they have real eigenvalues [3]", 1)


@pytest.mark.parametrize("answer", [NOT_FOUND, "", "   ", "Yes."])
def test_nothing_to_ground(answer: str) -> None:
    assert attach_citations(answer, SOURCES) == (answer, 0)


def test_without_sources_nothing_changes() -> None:
    assert attach_citations("The hotel is near the river.", ()) == (
        "The hotel is near the river.",
        0,
    )


def test_thresholds_are_tunable() -> None:
    answer = "The hotel is near the tram stop."
    assert attach_citations(answer, SOURCES, min_coverage=0.95)[1] == 0
    assert attach_citations(answer, SOURCES, min_coverage=0.3)[1] == 1


def test_added_markers_survive_the_citation_cleaner() -> None:
    text, _ = attach_citations("Flights cost 420 euros. The hotel is near the river.", SOURCES)
    assert clean_citations(text, len(SOURCES)) == (text, 0)


def test_a_one_word_heading_is_not_a_claim_to_cite() -> None:
    assert attach_citations("Costs:", SOURCES) == ("Costs:", 0)
    assert attach_citations("Costs:", SOURCES, min_shared_terms=1) == ("Costs: [2]", 1)


async def test_extractive_answers_pass_through_unchanged() -> None:
    from morgan.llm.base import GenerationRequest
    from morgan.llm.extractive import ExtractiveLLM

    sources = (
        *SOURCES,
        SourcePassage(
            4,
            "Options",
            "* `debug` (boolean): logging. * `charThreshold` "
            "(number, default `500`): characters an article needs.",
        ),
    )
    for question in (
        "What does the hotel cost per night and where is it?",
        "What is the default charThreshold?",
    ):
        answer = (
            await ExtractiveLLM().generate(GenerationRequest(question=question, sources=sources))
        ).text
        assert attach_citations(answer, sources) == (answer, 0)


@pytest.mark.parametrize(
    "answer",
    [
        "Hermitian matrices are named after Charles Hermite in 1925.",  # wrong year
        "Hermitian matrices are named after Joseph Hermite.",  # wrong name
    ],
)
def test_numbers_and_names_missing_from_the_source_block_the_citation(answer: str) -> None:
    assert attach_citations(answer, SOURCES) == (answer, 0)
