"""One contract for every `Embedder`: MiniLM on the CPU, Ollama (against its contract fake),
and the production wrapper `FallbackEmbedder` with its primary up and with its primary down.

Retrieval relies on exactly these properties: one vector per text in order, of `dimension`
floats, unit length (scores are cosine), and the same vector for a text whatever batch it
came in (a query embedded alone must meet its chunk embedded in a batch of 32).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from morgan.llm.base import Embedder
from morgan.llm.fallback_embedder import FallbackEmbedder
from morgan.llm.minilm import MINILM_DIMENSION, MiniLMEmbedder
from morgan.llm.ollama import OllamaEmbedder
from tests.contract_fakes.ollama import FakeOllama

TEXTS = [
    "The default weight value is 50.",
    "pypdf extracts text from each page of a PDF.",
    "Ein kurzer deutscher Satz über Geometrie.",
    "",
    "x" * 3000,
]


@dataclass
class Subject:
    embedder: Embedder
    expect_degraded: bool = False


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(
    params=["minilm", "ollama", "fallback-primary-up", "fallback-primary-down"],
)
async def subject(
    request: pytest.FixtureRequest, minilm: MiniLMEmbedder, closed_port_url: str
) -> AsyncIterator[Subject]:
    closers: list[Callable[[], object]] = []
    if request.param == "minilm":
        yield Subject(minilm)
        return
    if request.param == "fallback-primary-down":
        down = OllamaEmbedder(closed_port_url, "all-minilm", retries=0, timeout_s=2)
        closers.append(down.aclose)
        yield Subject(FallbackEmbedder(down, minilm, same_space=True), expect_degraded=True)
    else:
        dimension = MINILM_DIMENSION if request.param == "fallback-primary-up" else 8
        with FakeOllama(embedding_dimension=dimension) as server:
            remote = OllamaEmbedder(server.base_url, "nomic-embed-text", batch_size=2)
            closers.append(remote.aclose)
            if request.param == "ollama":
                yield Subject(remote)
            else:
                yield Subject(FallbackEmbedder(remote, minilm, same_space=True))
    for close in closers:
        await close()  # type: ignore[misc]


async def test_one_unit_vector_of_dimension_floats_per_text_in_order(subject: Subject) -> None:
    vectors = await subject.embedder.embed(TEXTS)
    assert len(vectors) == len(TEXTS)
    dimension = subject.embedder.dimension
    assert dimension > 0
    for vector in vectors:
        assert len(vector) == dimension
        assert all(isinstance(x, float) for x in vector)
        norm = math.sqrt(sum(x * x for x in vector))
        assert norm == pytest.approx(1.0, abs=1e-3) or norm == 0.0
    assert vectors[0] != vectors[1], "different texts must not collapse to one vector"


async def test_no_texts_no_vectors(subject: Subject) -> None:
    assert await subject.embedder.embed([]) == []


async def test_a_text_gets_the_same_vector_alone_and_in_a_batch(subject: Subject) -> None:
    batch = await subject.embedder.embed(TEXTS)
    alone = await subject.embedder.embed([TEXTS[1]])
    assert alone[0] == pytest.approx(batch[1], abs=1e-4)


async def test_health_names_the_component_and_reports_the_fallback(subject: Subject) -> None:
    await subject.embedder.embed(TEXTS[:1])
    health = await subject.embedder.health()
    assert subject.embedder.name
    assert health.state == ("degraded" if subject.expect_degraded else "up")
