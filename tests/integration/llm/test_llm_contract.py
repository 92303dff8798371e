"""The `LLM` protocol contract, run against every implementation.

Network backends talk to contract fakes over real sockets; the embedded backend runs the
real bundled GGUF model (marked slow); extractive and the fallback chain need nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from morgan.llm.base import LLM, GenerationRequest, LLMUnavailable, SourcePassage
from morgan.llm.embedded import EmbeddedGGUFLLM
from morgan.llm.extractive import ExtractiveLLM
from morgan.llm.fallback import FallbackLLM
from morgan.llm.ollama import OllamaLLM
from morgan.llm.openai_compat import OpenAICompatibleLLM
from tests.contract_fakes.ollama import FakeOllama
from tests.contract_fakes.openai_compat import FakeOpenAI

REQUEST = GenerationRequest(
    question="When does the community garden open?",
    sources=(
        SourcePassage(
            1,
            "Garden newsletter",
            "The community garden opens at 7 am on weekdays. Dogs must be leashed.",
        ),
        SourcePassage(2, "Recipes", "Tomato soup needs two kilos of ripe tomatoes."),
    ),
    max_tokens=48,
    temperature=0.0,
)

IMPLEMENTATIONS = [
    "ollama",
    "openai",
    "extractive",
    "fallback",
    pytest.param("embedded", marks=pytest.mark.slow),
]


@pytest.fixture(params=IMPLEMENTATIONS)
async def llm(request: pytest.FixtureRequest) -> AsyncIterator[LLM]:
    kind = request.param
    if kind == "ollama":
        with FakeOllama(reply="The garden opens at 7 am on weekdays [1].") as server:
            backend = OllamaLLM(server.base_url, "llama3.2", backoff_s=0)
            await backend.warm_up()
            yield backend
            await backend.aclose()
    elif kind == "openai":
        with FakeOpenAI(reply="The garden opens at 7 am on weekdays [1].") as server:
            backend = OpenAICompatibleLLM(server.base_url, server.model, backoff_s=0)
            yield backend
            await backend.aclose()
    elif kind == "extractive":
        yield ExtractiveLLM()
    elif kind == "fallback":
        with FakeOllama(reply="It opens at 7 am [1].") as server:
            yield FallbackLLM(
                [OllamaLLM(server.base_url, "llama3.2", backoff_s=0), ExtractiveLLM()]
            )
    else:
        yield request.getfixturevalue("embedded_llm")


def test_implements_protocol(llm: LLM) -> None:
    assert isinstance(llm, LLM)
    assert llm.name
    assert llm.context_window > 0


def test_count_tokens_is_positive_and_grows(llm: LLM) -> None:
    short = llm.count_tokens("When does the garden open?")
    assert short > 0
    assert llm.count_tokens("When does the garden open? " * 20) > short


async def test_generate_returns_text(llm: LLM) -> None:
    generation = await llm.generate(REQUEST)
    assert generation.text.strip()
    assert generation.model


async def test_stream_concatenates_to_the_answer(llm: LLM) -> None:
    deltas = [delta async for delta in llm.stream(REQUEST)]
    assert all(isinstance(delta, str) and delta for delta in deltas)
    streamed = "".join(deltas)
    assert streamed.strip()
    assert streamed == (await llm.generate(REQUEST)).text


async def test_health_reports_up(llm: LLM) -> None:
    health = await llm.health()
    assert health.name == "llm"
    assert health.state == "up", health.detail


# -- failing backends ---------------------------------------------------------------------

BROKEN = ["ollama", "openai", pytest.param("embedded", marks=pytest.mark.slow)]


@pytest.fixture(params=BROKEN)
def broken_llm(request: pytest.FixtureRequest, closed_port_url: str, tmp_path) -> Iterator[LLM]:  # type: ignore[no-untyped-def]
    if request.param == "ollama":
        yield OllamaLLM(closed_port_url, "llama3.2", retries=1, backoff_s=0)
    elif request.param == "openai":
        yield OpenAICompatibleLLM(closed_port_url, "m", retries=1, backoff_s=0)
    else:
        pytest.importorskip("llama_cpp")
        missing = tmp_path / "missing.gguf"
        yield EmbeddedGGUFLLM(model_path=missing)


async def test_unreachable_backend_raises_unavailable(broken_llm: LLM) -> None:
    with pytest.raises(LLMUnavailable):
        await broken_llm.generate(REQUEST)
    with pytest.raises(LLMUnavailable):
        async for _ in broken_llm.stream(REQUEST):
            pytest.fail("a broken backend must not yield")


async def test_unreachable_backend_reports_down(broken_llm: LLM) -> None:
    with pytest.raises(LLMUnavailable):
        await broken_llm.generate(REQUEST)
    health = await broken_llm.health()
    assert health.state == "down"
    assert health.detail
