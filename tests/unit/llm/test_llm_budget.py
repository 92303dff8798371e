from __future__ import annotations

from morgan.llm.base import ChatMessage, GenerationRequest, SourcePassage
from morgan.llm.budget import fit_to_budget


def words(text: str) -> int:
    return len(text.split())


def source(n: int, size: int) -> SourcePassage:
    return SourcePassage(n, f"doc{n}", " ".join(["word"] * size))


def turn(role: str, size: int) -> ChatMessage:
    return ChatMessage(role, " ".join([role] * size))  # type: ignore[arg-type]


REQUEST = GenerationRequest(
    question="what is in the documents",
    system="be brief",
    history=(turn("user", 50), turn("assistant", 50), turn("user", 50), turn("assistant", 50)),
    sources=tuple(source(n, 100) for n in range(1, 6)),
    max_tokens=100,
)


def test_request_that_fits_is_untouched() -> None:
    result = fit_to_budget(REQUEST, words, 10_000)
    assert result.request == REQUEST
    assert result.fits and not result.trimmed
    assert result.prompt_tokens <= result.budget_tokens


def test_lowest_ranked_sources_go_first() -> None:
    result = fit_to_budget(REQUEST, words, 800, safety_margin=0.0)
    assert result.dropped_sources == (5, 4)
    assert [s.n for s in result.request.sources] == [1, 2, 3]
    assert result.dropped_history == 0
    assert result.fits and result.prompt_tokens <= 800 - 100


def test_then_oldest_history_turns_go() -> None:
    result = fit_to_budget(REQUEST, words, 500, safety_margin=0.0)
    assert [s.n for s in result.request.sources] == [1]
    assert result.dropped_sources == (5, 4, 3, 2)
    assert result.dropped_history == 2
    assert result.request.history == REQUEST.history[2:]
    assert result.fits


def test_history_never_starts_with_an_assistant_turn() -> None:
    result = fit_to_budget(REQUEST, words, 400, safety_margin=0.0)
    assert result.dropped_history == 4 and result.request.history == ()
    assert [s.n for s in result.request.sources] == [1]


def test_last_source_goes_only_when_nothing_else_is_left() -> None:
    result = fit_to_budget(REQUEST, words, 300, safety_margin=0.0)
    assert result.request.sources == () and result.request.history == ()
    assert result.fits


def test_answer_reservation_and_margin_count() -> None:
    tight = fit_to_budget(REQUEST, words, 1000, reserve_for_answer=500, safety_margin=0.0)
    loose = fit_to_budget(REQUEST, words, 1000, reserve_for_answer=0, safety_margin=0.0)
    assert len(tight.request.sources) < len(loose.request.sources)
    margin = fit_to_budget(REQUEST, words, 1000, reserve_for_answer=0, safety_margin=0.3)
    assert margin.budget_tokens == 700


def test_reports_when_even_the_question_does_not_fit() -> None:
    huge = GenerationRequest(question="why " * 500, max_tokens=100)
    result = fit_to_budget(huge, words, 600)
    assert not result.fits
