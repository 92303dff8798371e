"""OllamaLLM / OllamaEmbedder against the Ollama contract fake: what is sent, and how
every documented failure mode turns into `LLMUnavailable`."""

from __future__ import annotations

import math
import time

import pytest

from morgan.llm.base import ChatMessage, GenerationRequest, LLMUnavailable, SourcePassage
from morgan.llm.errors import EmbedderUnavailable, EmbeddingDimensionUnknown, LLMStreamInterrupted
from morgan.llm.ollama import DEFAULT_NUM_CTX_CAP, OllamaEmbedder, OllamaLLM
from tests.contract_fakes.ollama import CUDA_OOM, FakeOllama, FakeOllamaModel

REQUEST = GenerationRequest(
    question="Where is the spare key?",
    system="Answer from the sources and cite them.",
    history=(ChatMessage("user", "hi"), ChatMessage("assistant", "Hello!")),
    sources=(SourcePassage(1, "House notes", "The spare key is under the blue pot."),),
    max_tokens=64,
    temperature=0.1,
    stop=("\n\nUser:",),
)


def llm_for(server: FakeOllama, **kwargs: object) -> OllamaLLM:
    return OllamaLLM(server.base_url, "llama3.2", backoff_s=0, **kwargs)  # type: ignore[arg-type]


async def test_chat_request_follows_the_api(fake_ollama: FakeOllama) -> None:
    await llm_for(fake_ollama).generate(REQUEST)
    body = fake_ollama.requests_to("/api/chat")[-1].body
    assert body["model"] == "llama3.2"
    assert body["stream"] is False
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    final_turn = body["messages"][-1]["content"]
    assert "[1] House notes: «The spare key is under the blue pot.»" in final_turn
    assert final_turn.endswith("Question: Where is the spare key?")
    assert body["options"] == {
        "num_ctx": DEFAULT_NUM_CTX_CAP,
        "num_predict": 64,
        "temperature": 0.1,
        "top_p": 0.9,
        "stop": ["\n\nUser:"],
    }


@pytest.mark.parametrize(
    ("trained", "requested", "expected"),
    [
        (4096, None, 4096),
        (131072, None, DEFAULT_NUM_CTX_CAP),
        (131072, 32768, 32768),
        (8192, 65536, 8192),
    ],
)
async def test_num_ctx_comes_from_the_models_real_window(
    trained: int, requested: int | None, expected: int
) -> None:
    with FakeOllama(models=[FakeOllamaModel("llama3.2", context_length=trained)]) as server:
        llm = llm_for(server, num_ctx=requested)
        await llm.warm_up()
        assert llm.context_window == expected
        _ = [delta async for delta in llm.stream(REQUEST)]
        assert server.requests_to("/api/show")[0].body == {"model": "llama3.2"}
        assert server.requests_to("/api/chat")[-1].body["options"]["num_ctx"] == expected


async def test_stream_yields_deltas_in_order(fake_ollama: FakeOllama) -> None:
    fake_ollama.reply = "Under the blue pot [1]."
    deltas = [delta async for delta in llm_for(fake_ollama).stream(REQUEST)]
    assert deltas == ["Under", " the", " blue", " pot", " [1]."]
    assert fake_ollama.requests_to("/api/chat")[-1].body["stream"] is True


async def test_out_of_memory_is_unavailable_and_not_retried(fake_ollama: FakeOllama) -> None:
    await llm_for(fake_ollama).warm_up()
    fake_ollama.fail("/api/chat", 500, CUDA_OOM, times=None)
    with pytest.raises(LLMUnavailable, match="out of memory"):
        await llm_for(fake_ollama, num_ctx=2048).generate(REQUEST)
    assert len(fake_ollama.requests_to("/api/chat")) == 1


async def test_transient_5xx_is_retried(fake_ollama: FakeOllama) -> None:
    fake_ollama.fail("/api/chat", 503, "server busy", times=1)
    generation = await llm_for(fake_ollama, retries=2).generate(REQUEST)
    assert generation.text == fake_ollama.reply
    assert len(fake_ollama.requests_to("/api/chat")) == 2


async def test_persistent_5xx_exhausts_retries(fake_ollama: FakeOllama) -> None:
    fake_ollama.fail("/api/chat", 502, "bad gateway", times=None)
    with pytest.raises(LLMUnavailable, match="bad gateway"):
        await llm_for(fake_ollama, retries=2).generate(REQUEST)
    assert len(fake_ollama.requests_to("/api/chat")) == 3


async def test_unknown_model_is_unavailable_without_retry(fake_ollama: FakeOllama) -> None:
    llm = OllamaLLM(fake_ollama.base_url, "no-such-model", num_ctx=2048, backoff_s=0)
    with pytest.raises(LLMUnavailable, match="not found"):
        await llm.generate(REQUEST)
    assert len(fake_ollama.requests) == 1  # /api/show already answered 404; not retried


async def test_connection_refused_is_retried_then_unavailable(closed_port_url: str) -> None:
    llm = OllamaLLM(closed_port_url, "llama3.2", num_ctx=2048, retries=2, backoff_s=0)
    with pytest.raises(LLMUnavailable, match="cannot connect"):
        await llm.generate(REQUEST)


async def test_slow_response_times_out(fake_ollama: FakeOllama) -> None:
    llm = llm_for(fake_ollama, num_ctx=2048, timeout_s=0.3)
    fake_ollama.slow("/api/chat", times=None)
    started = time.perf_counter()
    with pytest.raises(LLMUnavailable, match="timed out"):
        await llm.generate(REQUEST)
    with pytest.raises(LLMUnavailable, match="timed out"):
        async for _ in llm.stream(REQUEST):
            pytest.fail("nothing should arrive")
    assert time.perf_counter() - started < 5
    assert len(fake_ollama.requests_to("/api/chat")) == 2  # a read timeout is not retried


async def test_disconnect_mid_stream_is_an_interruption(fake_ollama: FakeOllama) -> None:
    fake_ollama.reply = "Under the blue pot [1]."
    fake_ollama.disconnect("/api/chat", after_lines=2)
    received: list[str] = []
    with pytest.raises(LLMStreamInterrupted) as caught:
        async for delta in llm_for(fake_ollama).stream(REQUEST):
            received.append(delta)
    assert received == ["Under", " the"]
    assert caught.value.partial_text == "Under the"
    assert len(fake_ollama.requests_to("/api/chat")) == 1  # never retried mid-stream


async def test_error_line_before_any_token_is_unavailable(fake_ollama: FakeOllama) -> None:
    fake_ollama.stream_error("/api/chat", CUDA_OOM, after_lines=0)
    with pytest.raises(LLMUnavailable, match="out of memory") as caught:
        async for _ in llm_for(fake_ollama).stream(REQUEST):
            pytest.fail("nothing should arrive")
    assert not isinstance(caught.value, LLMStreamInterrupted)


async def test_error_line_mid_stream_is_an_interruption(fake_ollama: FakeOllama) -> None:
    fake_ollama.stream_error("/api/chat", CUDA_OOM, after_lines=3)
    with pytest.raises(LLMStreamInterrupted, match="out of memory"):
        async for _ in llm_for(fake_ollama).stream(REQUEST):
            pass


async def test_health(fake_ollama: FakeOllama, closed_port_url: str) -> None:
    assert (await llm_for(fake_ollama).health()).state == "up"
    missing = await OllamaLLM(fake_ollama.base_url, "mistral").health()
    assert missing.state == "down" and "not pulled" in missing.detail
    assert (await OllamaLLM(closed_port_url, "llama3.2").health()).state == "down"


async def test_list_models_and_pull_progress(fake_ollama: FakeOllama) -> None:
    llm = llm_for(fake_ollama)
    before = {m.name for m in await llm.list_models()}
    assert "llama3.2:latest" in before and "qwen2.5:0.5b" not in before
    progress = [p async for p in llm.pull("qwen2.5:0.5b")]
    assert progress[0].status == "pulling manifest"
    assert progress[-1].status == "success"
    fractions = [p.fraction for p in progress if p.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "qwen2.5:0.5b" in {m.name for m in await llm.list_models()}
    with pytest.raises(LLMUnavailable, match="does not exist"):
        _ = [p async for p in llm.pull("no-such-model")]


async def test_embedder_batches_and_normalises(fake_ollama: FakeOllama) -> None:
    embedder = OllamaEmbedder(fake_ollama.base_url, "nomic-embed-text", batch_size=2, backoff_s=0)
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    vectors = await embedder.embed(texts)
    assert embedder.dimension == fake_ollama.embedding_dimension
    assert [len(r.body["input"]) for r in fake_ollama.requests_to("/api/embed")] == [2, 2, 1]
    for text, vector in zip(texts, vectors, strict=True):
        raw = fake_ollama.embedding(text)
        norm = math.sqrt(sum(x * x for x in raw))
        assert vector == pytest.approx([x / norm for x in raw], abs=1e-6)
        assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-5)
    assert (await embedder.health()).state == "up"


async def test_embedder_failure_is_embedder_unavailable(fake_ollama: FakeOllama) -> None:
    embedder = OllamaEmbedder(fake_ollama.base_url, "nomic-embed-text", backoff_s=0)
    fake_ollama.fail("/api/embed", 500, CUDA_OOM)
    with pytest.raises(EmbedderUnavailable, match="out of memory"):
        await embedder.embed(["alpha"])
    with pytest.raises(EmbeddingDimensionUnknown, match="dimension unknown until"):
        _ = embedder.dimension
    await embedder.warm_up()
    assert embedder.dimension == fake_ollama.embedding_dimension
