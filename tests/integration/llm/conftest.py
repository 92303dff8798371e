"""Fixtures for the LLM backend tests: contract fakes of Ollama and an OpenAI-compatible
server on loopback ports, and the real bundled GGUF model loaded once per session."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[3]
if str(_REPO_ROOT) not in sys.path:  # makes `tests.contract_fakes` importable
    sys.path.insert(0, str(_REPO_ROOT))

from tests.contract_fakes.ollama import FakeOllama
from tests.contract_fakes.openai_compat import FakeOpenAI


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens, so connects are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def embedded_llm(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The bundled Gemma 3 270M, assembled into a temp folder and loaded once."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from morgan.llm.embedded import EmbeddedGGUFLLM

    llm = EmbeddedGGUFLLM(cache_dir=tmp_path_factory.mktemp("gguf"))
    llm.load()
    return llm
