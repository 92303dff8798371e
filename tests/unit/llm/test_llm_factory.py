from __future__ import annotations

import pytest

from morgan.llm.base import ChatMessage, GenerationRequest, SourcePassage
from morgan.llm.embedded import EmbeddedGGUFLLM
from morgan.llm.extractive import ExtractiveLLM
from morgan.llm.factory import UnsupportedLLMUrl, build_embedder, build_fallback_llm, build_llm
from morgan.llm.ollama import OllamaEmbedder, OllamaLLM
from morgan.llm.openai_compat import OpenAICompatibleLLM
from morgan.llm.prompts import SOURCES_ARE_DATA, render_chat_messages, render_completion_prompt
from morgan.llm.tokens import estimate_tokens


@pytest.mark.parametrize(
    ("url", "kind", "expected_type", "expected_base"),
    [
        ("ollama://gpu-0:11434", "ollama", OllamaLLM, "http://gpu-0:11434"),
        ("ollama+https://llm.example.org/", "ollama", OllamaLLM, "https://llm.example.org"),
        ("http://gpu-0:11434", "ollama", OllamaLLM, "http://gpu-0:11434"),
        ("openai+http://vllm:8000/v1", "ollama", OpenAICompatibleLLM, "http://vllm:8000/v1"),
        ("https://api.example.org", "openai", OpenAICompatibleLLM, "https://api.example.org/v1"),
    ],
)
def test_network_urls(url: str, kind: str, expected_type: type, expected_base: str) -> None:
    llm = build_llm(url, "some-model", kind=kind)  # type: ignore[arg-type]
    assert isinstance(llm, expected_type)
    if isinstance(llm, OllamaLLM):
        base = llm.client.base_url
    else:
        assert isinstance(llm, OpenAICompatibleLLM)
        base = llm.api_root
    assert base == expected_base


def test_local_urls() -> None:
    assert isinstance(build_llm("extractive://"), ExtractiveLLM)
    bundled = build_llm("embedded://gemma3-270m", num_ctx=1024)
    assert isinstance(bundled, EmbeddedGGUFLLM) and bundled.context_window == 1024
    assert not bundled.loaded  # building never loads a model
    assert isinstance(build_llm("embedded:///models/x.gguf"), EmbeddedGGUFLLM)


@pytest.mark.parametrize("url", ["ftp://x", "embedded://llama-70b", "ollama://host"])
def test_rejected_urls(url: str) -> None:
    with pytest.raises(UnsupportedLLMUrl):
        build_llm(url, "" if url.startswith("ollama") else "m")


def test_fallback_chain_ends_with_extractive() -> None:
    chain = build_fallback_llm(build_llm("ollama://a:1", "big"), build_llm("ollama://b:1", "small"))
    assert [b.name for b in chain.backends] == ["ollama:big", "ollama:small", "extractive"]


def test_embedder_url() -> None:
    assert isinstance(build_embedder("ollama://gpu:11434", "nomic-embed-text"), OllamaEmbedder)
    with pytest.raises(UnsupportedLLMUrl):
        build_embedder("embedded://x", "m")


REQUEST = GenerationRequest(
    question="Where is it?",
    system="Be kind.",
    history=(ChatMessage("user", "hello"), ChatMessage("assistant", "hi")),
    sources=(SourcePassage(1, "Notes", "It is  in the\nbox."),),
)


def test_chat_rendering() -> None:
    messages = render_chat_messages(REQUEST)
    assert messages[0] == {"role": "system", "content": "Be kind."}
    assert messages[-1]["content"] == (
        f"{SOURCES_ARE_DATA}\n\nSources:\n[1] Notes: «It is in the box.»\n\nQuestion: Where is it?"
    )


def test_completion_rendering_for_a_base_model() -> None:
    prompt = render_completion_prompt(REQUEST)
    assert prompt.startswith("Be kind.")
    assert "[1] Notes: «It is in the box.»\nQuestion: Where is it?\nAnswer:" in prompt
    assert prompt.endswith("Answer:")


def test_token_estimate() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("x" * 400) == 100
