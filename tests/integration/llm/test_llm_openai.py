"""OpenAICompatibleLLM against the OpenAI-compatible contract fake."""

from __future__ import annotations

import pytest

from morgan.llm.base import GenerationRequest, LLMUnavailable, SourcePassage
from morgan.llm.errors import LLMStreamInterrupted
from morgan.llm.openai_compat import DEFAULT_CONTEXT_WINDOW, OpenAICompatibleLLM
from tests.contract_fakes.openai_compat import FakeOpenAI

REQUEST = GenerationRequest(
    question="Where is the spare key?",
    sources=(SourcePassage(1, "House notes", "The spare key is under the blue pot."),),
    max_tokens=32,
    stop=("\n\n",),
)


def llm_for(server: FakeOpenAI, **kwargs: object) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(server.base_url, server.model, backoff_s=0, **kwargs)  # type: ignore[arg-type]


async def test_request_body_and_sse_stream(fake_openai: FakeOpenAI) -> None:
    fake_openai.reply = "Under the blue pot [1]."
    deltas = [delta async for delta in llm_for(fake_openai).stream(REQUEST)]
    assert deltas == ["Under", " the", " blue", " pot", " [1]."]
    body = fake_openai.requests_to("/v1/chat/completions")[-1].body
    assert body["stream"] is True and body["max_tokens"] == 32 and body["stop"] == ["\n\n"]
    assert "[1] House notes" in body["messages"][-1]["content"]


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
async def test_base_url_with_or_without_v1(fake_openai: FakeOpenAI, suffix: str) -> None:
    llm = OpenAICompatibleLLM(fake_openai.base_url + suffix, fake_openai.model)
    assert (await llm.generate(REQUEST)).text == fake_openai.reply


async def test_warm_up_reads_max_model_len(fake_openai: FakeOpenAI) -> None:
    llm = llm_for(fake_openai)
    assert llm.context_window == DEFAULT_CONTEXT_WINDOW
    await llm.warm_up()
    assert llm.context_window == fake_openai.max_model_len


async def test_api_key_is_sent() -> None:
    with FakeOpenAI(api_key="s3cret") as server:
        assert (await llm_for(server, api_key="s3cret").generate(REQUEST)).text
        with pytest.raises(LLMUnavailable, match="invalid api key"):
            await llm_for(server, api_key="wrong").generate(REQUEST)
        assert (await llm_for(server, api_key="wrong").health()).state == "down"


async def test_server_error_is_unavailable(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_openai("/v1/chat/completions", 500, "CUDA out of memory", times=None)
    with pytest.raises(LLMUnavailable, match="out of memory"):
        async for _ in llm_for(fake_openai).stream(REQUEST):
            pytest.fail("nothing should arrive")


async def test_timeout(fake_openai: FakeOpenAI) -> None:
    fake_openai.slow("/v1/chat/completions")
    with pytest.raises(LLMUnavailable, match="timed out"):
        await llm_for(fake_openai, timeout_s=0.3).generate(REQUEST)


async def test_disconnect_mid_stream(fake_openai: FakeOpenAI) -> None:
    fake_openai.disconnect("/v1/chat/completions", after_lines=3)
    received: list[str] = []
    with pytest.raises(LLMStreamInterrupted) as caught:
        async for delta in llm_for(fake_openai).stream(REQUEST):
            received.append(delta)
    assert received and caught.value.partial_text == "".join(received)


async def test_error_event_mid_stream(fake_openai: FakeOpenAI) -> None:
    fake_openai.stream_error("/v1/chat/completions", "engine crashed", after_lines=3)
    with pytest.raises(LLMStreamInterrupted, match="engine crashed"):
        async for _ in llm_for(fake_openai).stream(REQUEST):
            pass
