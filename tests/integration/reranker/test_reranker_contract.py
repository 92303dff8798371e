"""The contract every Reranker must keep, run against the in-process and HTTP rerankers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from morgan.reranker import (
    MAX_PASSAGES,
    HttpReranker,
    InProcessReranker,
    InvalidRerankRequest,
    OnnxCrossEncoder,
    Reranker,
)

QUERY = "where does the cat sleep"
PASSAGES = [
    "the cat sleeps in the house on a small bed",
    "a doctor works at the hospital in the city",
    "rain and snow fall from the sky in winter",
    "the dog and the cat play with a ball after school",
    "",
]


@pytest.fixture(params=["in_process", "http"])
async def reranker(
    request: pytest.FixtureRequest, tiny_model_dir: Path, reranker_url: str
) -> AsyncIterator[Reranker]:
    if request.param == "in_process":
        in_process = InProcessReranker.from_model_dir(tiny_model_dir, batch_size=16)
        in_process.warm_up()
        yield in_process
    else:
        http = HttpReranker(reranker_url, timeout_s=10)
        yield http
        await http.aclose()


@pytest.fixture(scope="module")
def reference_scores(tiny_model_dir: Path) -> list[float]:
    return OnnxCrossEncoder(tiny_model_dir, batch_size=1).score(QUERY, PASSAGES)


async def test_is_a_reranker_and_is_up(reranker: Reranker) -> None:
    assert isinstance(reranker, Reranker)
    assert reranker.name
    health = await reranker.health()
    assert (health.name, health.state) == ("reranker", "up")
    assert "CPUExecutionProvider" in health.detail


async def test_scores_every_passage_in_order(
    reranker: Reranker, reference_scores: list[float]
) -> None:
    scores = await reranker.rerank(QUERY, PASSAGES)
    assert scores == pytest.approx(reference_scores, abs=1e-5)
    reversed_scores = await reranker.rerank(QUERY, PASSAGES[::-1])
    assert reversed_scores == pytest.approx(reference_scores[::-1], abs=1e-5)


async def test_empty_passage_list_gives_no_scores(reranker: Reranker) -> None:
    assert await reranker.rerank(QUERY, []) == []


async def test_accepts_the_maximum_number_of_passages(reranker: Reranker) -> None:
    passages = [f"passage {n} about the cat" for n in range(MAX_PASSAGES)]
    scores = await reranker.rerank(QUERY, passages)
    assert len(scores) == MAX_PASSAGES
    assert all(isinstance(score, float) and 0.0 <= score <= 1.0 for score in scores)


async def test_rejects_too_many_passages(reranker: Reranker) -> None:
    with pytest.raises(InvalidRerankRequest, match="between 1 and 100 items, got 101"):
        await reranker.rerank(QUERY, ["the cat"] * (MAX_PASSAGES + 1))


async def test_rejects_an_empty_query(reranker: Reranker) -> None:
    with pytest.raises(InvalidRerankRequest, match="query must not be empty"):
        await reranker.rerank(" ", PASSAGES)


async def test_long_passages_are_scored(reranker: Reranker) -> None:
    scores = await reranker.rerank(QUERY, ["the cat sleeps " * 2000, "a dog"])
    assert len(scores) == 2
