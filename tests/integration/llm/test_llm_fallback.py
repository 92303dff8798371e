"""FallbackLLM over real backends: Ollama fakes (main, fast) and the extractive answerer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from morgan.llm.base import GenerationRequest, LLMUnavailable, SourcePassage
from morgan.llm.errors import LLMStreamInterrupted
from morgan.llm.extractive import ExtractiveLLM
from morgan.llm.fallback import FallbackLLM, FallbackReport
from morgan.llm.ollama import OllamaLLM
from tests.contract_fakes.ollama import CUDA_OOM, FakeOllama, FakeOllamaModel

REQUEST = GenerationRequest(
    question="When does the pool open?",
    sources=(SourcePassage(1, "Pool rules", "The pool opens at 6 am. Swim caps are required."),),
)


@pytest.fixture
def servers() -> Iterator[tuple[FakeOllama, FakeOllama]]:
    with (
        FakeOllama(reply="From main [1].") as main,
        FakeOllama(models=[FakeOllamaModel("qwen2.5:0.5b")], reply="From fast [1].") as fast,
    ):
        yield main, fast


def chain(main: FakeOllama, fast: FakeOllama) -> FallbackLLM:
    return FallbackLLM(
        [
            OllamaLLM(main.base_url, "llama3.2", num_ctx=4096, backoff_s=0),
            OllamaLLM(fast.base_url, "qwen2.5:0.5b", num_ctx=2048, backoff_s=0),
            ExtractiveLLM(),
        ]
    )


async def test_main_answers_when_up(servers: tuple[FakeOllama, FakeOllama]) -> None:
    main, fast = servers
    report = FallbackReport()
    generation = await chain(main, fast).generate(REQUEST, report=report)
    assert generation.text == "From main [1]."
    assert report.answered_by == "ollama:llama3.2"
    assert not report.degraded and report.failures == []
    assert fast.requests_to("/api/chat") == []


async def test_main_oom_falls_back_to_fast(servers: tuple[FakeOllama, FakeOllama]) -> None:
    main, fast = servers
    main.fail("/api/chat", 500, CUDA_OOM, times=None)
    report = FallbackReport()
    deltas = [d async for d in chain(main, fast).stream(REQUEST, report=report)]
    assert "".join(deltas) == "From fast [1]."
    assert report.answered_by == "ollama:qwen2.5:0.5b"
    assert report.degraded
    assert [f.backend for f in report.failures] == ["ollama:llama3.2"]
    assert "out of memory" in report.failures[0].error


async def test_both_models_down_gives_extractive_answer(
    servers: tuple[FakeOllama, FakeOllama],
) -> None:
    main, fast = servers
    main.fail("/api/chat", 500, CUDA_OOM, times=None)
    fast.slow("/api/chat", times=None)
    llm = FallbackLLM(
        [
            OllamaLLM(main.base_url, "llama3.2", num_ctx=4096, backoff_s=0),
            OllamaLLM(fast.base_url, "qwen2.5:0.5b", num_ctx=2048, timeout_s=0.3, backoff_s=0),
            ExtractiveLLM(),
        ]
    )
    report = FallbackReport()
    generation = await llm.generate(REQUEST, report=report)
    assert generation.text == "The pool opens at 6 am [1]."
    assert report.answered_by == "extractive"
    assert [f.backend for f in report.failures] == ["ollama:llama3.2", "ollama:qwen2.5:0.5b"]
    assert "timed out" in report.failures[1].error


async def test_mid_stream_failure_is_surfaced_not_switched(
    servers: tuple[FakeOllama, FakeOllama],
) -> None:
    main, fast = servers
    main.disconnect("/api/chat", after_lines=1)
    report = FallbackReport()
    received: list[str] = []
    with pytest.raises(LLMStreamInterrupted) as caught:
        async for delta in chain(main, fast).stream(REQUEST, report=report):
            received.append(delta)
    assert received == ["From"]
    assert caught.value.partial_text == "From"
    assert report.interrupted and report.degraded
    assert report.answered_by == "ollama:llama3.2"
    assert fast.requests_to("/api/chat") == []


async def test_all_failing_raises_with_every_reason(closed_port_url: str) -> None:
    llm = FallbackLLM(
        [
            OllamaLLM(closed_port_url, "a", num_ctx=2048, retries=0),
            OllamaLLM(closed_port_url, "b", num_ctx=2048, retries=0),
        ]
    )
    report = FallbackReport()
    with pytest.raises(LLMUnavailable, match="ollama:a: .*ollama:b: "):
        async for _ in llm.stream(REQUEST, report=report):
            pytest.fail("nothing should arrive")
    assert report.answered_by is None and len(report.failures) == 2


async def test_health_and_context_window(
    servers: tuple[FakeOllama, FakeOllama], closed_port_url: str
) -> None:
    main, fast = servers
    llm = chain(main, fast)
    assert llm.context_window == 2048  # the smallest, so one budget fits every backend
    assert (await llm.health()).state == "up"
    degraded = FallbackLLM([OllamaLLM(closed_port_url, "llama3.2"), ExtractiveLLM()])
    health = await degraded.health()
    assert health.state == "degraded"
    assert "extractive=up" in health.detail
    down = FallbackLLM([OllamaLLM(closed_port_url, "llama3.2")])
    assert (await down.health()).state == "down"
