"""Runtime settings on SQLite and PostgreSQL: validation, live reads, model names checked
against a real (contract-fake) Ollama server."""

from __future__ import annotations

import pytest

from morgan.errors import BadRequest, NotFound
from morgan.llm.fallback import FallbackLLM
from morgan.llm.ollama import OllamaLLM
from morgan.runtime_config import LLMOverrides, RuntimeConfigService, SqlRuntimeConfigStore
from morgan.runtime_config.service import model_lister
from morgan.storage.db import Database
from tests.contract_fakes.ollama import FakeOllama, FakeOllamaModel


@pytest.fixture
async def service(db: Database) -> RuntimeConfigService:
    return RuntimeConfigService(SqlRuntimeConfigStore(db), defaults={"llm.model": None})


async def test_set_get_list_delete_roundtrip(service: RuntimeConfigService) -> None:
    assert await service.llm_overrides() == LLMOverrides()
    entry = await service.set("llm.temperature", "0.7")
    assert (entry.value, entry.source) == (0.7, "runtime") and entry.updated_at
    await service.set("LLM.max_tokens", 128)  # keys are case-insensitive, values typed
    await service.set("llm.temperature", 1.25)  # an upsert, not a second row
    listed = {e.key: e for e in await service.list()}
    assert listed["llm.temperature"].value == 1.25 and listed["llm.top_p"].source == "default"
    assert await service.llm_overrides() == LLMOverrides(temperature=1.25, max_tokens=128)
    back = await service.delete("llm.temperature")
    assert (back.value, back.source) == (None, "default")
    with pytest.raises(NotFound, match="not set"):
        await service.delete("llm.temperature")
    assert await service.llm_overrides() == LLMOverrides(max_tokens=128)


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("llm.temperature", "2.5", "between 0 and 2"),
        ("llm.temperature", "-0.1", "between 0 and 2"),
        ("llm.temperature", "warm", "must be a number"),
        ("llm.temperature", "nan", "finite"),
        ("llm.max_tokens", "0", "> 0"),
        ("llm.max_tokens", "1.5", "whole number"),
        ("llm.top_p", True, "must be a number"),
    ],
)
async def test_invalid_values_are_refused_and_nothing_is_written(
    service: RuntimeConfigService, key: str, value: object, why: str
) -> None:
    with pytest.raises(BadRequest, match=why):
        await service.set(key, value)
    assert (await service.get(key)).source == "default"


async def test_unknown_key_names_the_known_ones(service: RuntimeConfigService) -> None:
    with pytest.raises(NotFound, match=r"known: llm\.max_tokens"):
        await service.set("llm.temprature", "0.5")


async def test_model_must_exist_on_the_configured_backend(db: Database) -> None:
    with FakeOllama(models=[FakeOllamaModel("llama3.2"), FakeOllamaModel("qwen2.5:0.5b")]) as fake:
        main = OllamaLLM(fake.base_url, "llama3.2")
        lister, backend = model_lister(FallbackLLM([main]))
        service = RuntimeConfigService(
            SqlRuntimeConfigStore(db), list_models=lister, backend=backend
        )
        assert (await service.set("llm.model", "qwen2.5:0.5b")).value == "qwen2.5:0.5b"
        assert (await service.set("llm.model", "llama3.2")).value == "llama3.2"  # :latest implied
        with pytest.raises(BadRequest, match=r"no model 'gpt-5'.*available: llama3\.2:latest"):
            await service.set("llm.model", "gpt-5")
    assert (await service.llm_overrides()).model == "llama3.2"


async def test_model_is_refused_on_a_backend_with_one_builtin_model(db: Database) -> None:
    from morgan.llm.extractive import ExtractiveLLM

    lister, backend = model_lister(ExtractiveLLM())
    service = RuntimeConfigService(SqlRuntimeConfigStore(db), list_models=lister, backend=backend)
    with pytest.raises(BadRequest, match="one built-in model"):
        await service.set("llm.model", "llama3.2")
