"""The real bundled Gemma 3 270M GGUF on CPU: grounding, streaming off the event loop,
cancellation, and the context window read from the model file."""

from __future__ import annotations

import asyncio
import time

import pytest

from morgan.llm.base import GenerationRequest, LLMUnavailable, SourcePassage
from morgan.llm.budget import fit_to_budget
from morgan.llm.embedded import DEFAULT_N_CTX, EmbeddedGGUFLLM, bundled_model_path
from morgan.llm.prompts import render_completion_prompt

pytestmark = pytest.mark.slow

GROUNDED = GenerationRequest(
    question="Where is the spare key to the garden shed?",
    sources=(
        SourcePassage(
            1,
            "House notes",
            "The spare key to the garden shed is hidden under the blue flower pot.",
        ),
        SourcePassage(2, "Recipes", "Pancakes need two eggs and a cup of milk."),
    ),
    temperature=0.0,
    max_tokens=40,
)


async def test_answers_from_the_source(embedded_llm: EmbeddedGGUFLLM) -> None:
    generation = await embedded_llm.generate(GROUNDED)
    answer = generation.text.lower()
    assert answer.strip()
    assert any(word in answer for word in ("flower pot", "pot", "blue")), generation.text
    assert generation.prompt_tokens > 0 and generation.completion_tokens > 0


async def test_streaming_leaves_the_event_loop_free(embedded_llm: EmbeddedGGUFLLM) -> None:
    spins = 0
    done = asyncio.Event()

    async def spin() -> None:
        nonlocal spins
        while not done.is_set():
            spins += 1
            await asyncio.sleep(0)

    spinner = asyncio.create_task(spin())
    deltas = [delta async for delta in embedded_llm.stream(GROUNDED)]
    done.set()
    await spinner
    assert deltas
    # Had decoding run on the loop, the spinner could only run between tokens.
    assert spins > 20 * len(deltas)


async def test_closing_the_stream_stops_generation(embedded_llm: EmbeddedGGUFLLM) -> None:
    counting = GenerationRequest(
        question="Count from one to two hundred, separated by commas.",
        max_tokens=150,
        temperature=0.0,
    )
    stream = embedded_llm.stream(counting)
    first = await anext(stream)
    started = time.perf_counter()
    await stream.aclose()
    assert first
    assert embedded_llm.last_finish_reason == "cancelled"
    assert not embedded_llm.busy
    assert time.perf_counter() - started < 2.0
    # The model is immediately usable again.
    assert (await embedded_llm.generate(GROUNDED)).text


def test_context_window_comes_from_the_model(embedded_llm: EmbeddedGGUFLLM) -> None:
    assert embedded_llm.trained_context_length == 32768
    assert embedded_llm.context_window == min(DEFAULT_N_CTX, 32768)
    assert embedded_llm.count_tokens("hello world") == 2  # the real tokenizer, not chars/4


async def test_prompt_longer_than_the_window_is_unavailable(embedded_llm: EmbeddedGGUFLLM) -> None:
    huge = SourcePassage(1, "Log", "lorem ipsum dolor sit amet " * 3000)
    with pytest.raises(LLMUnavailable, match="context window"):
        await embedded_llm.generate(GenerationRequest(question="?", sources=(huge,)))


def test_bundled_model_is_assembled_offline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = bundled_model_path(tmp_path)
    assert path.parent == tmp_path and path.suffix == ".gguf"
    assert path.stat().st_size > 200_000_000


async def test_lazy_load_on_first_use(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("llama_cpp")
    llm = EmbeddedGGUFLLM(cache_dir=tmp_path, n_ctx=512)
    assert not llm.loaded
    assert (await llm.health()).state == "up"
    assert (await llm.generate(GROUNDED)).text
    assert llm.loaded and llm.context_window == 512


async def test_budgeted_prompt_really_fits_the_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("llama_cpp")
    llm = EmbeddedGGUFLLM(cache_dir=tmp_path, n_ctx=1024)
    await llm.warm_up()
    sources = tuple(
        SourcePassage(n, f"Log {n}", f"Entry {n}: the backup ran fine. " * 40) for n in range(1, 9)
    )
    request = GenerationRequest(
        question="Did the backup run?", sources=sources, max_tokens=64, temperature=0.0
    )
    result = fit_to_budget(request, llm.count_tokens, llm.context_window)
    assert result.dropped_sources and result.fits
    prompt_tokens = llm.count_tokens(render_completion_prompt(result.request))
    assert prompt_tokens + request.max_tokens <= llm.context_window
    assert (await llm.generate(result.request)).text
