"""`morgan config` and `morgan debug` against a real server whose LLM is the Ollama contract
fake, so what the server sends to the model after `config set` is observed, not assumed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from morgan.cli.main import cli
from tests.contract_fakes.ollama import FakeOllama, FakeOllamaModel
from tests.e2e.conftest import RunningServer, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama(
        models=[FakeOllamaModel("llama3.2"), FakeOllamaModel("qwen2.5:0.5b")],
        reply="Hello, I am here to help.",
    ) as fake:
        yield fake


@pytest.fixture(scope="module")
def llm_server(
    ollama: FakeOllama, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("home-config")
    srv = start_server(
        home,
        {
            "MORGAN_LLM_URL": f"ollama://127.0.0.1:{ollama.base_url.rsplit(':', 1)[1]}",
            "MORGAN_LLM_MODEL": "llama3.2",
        },
    )
    yield srv
    stop_server(srv)


@pytest.fixture
def run(llm_server: RunningServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        "MORGAN_URL": llm_server.url,
        "MORGAN_TOKEN": llm_server.token,
        "MORGAN_HOME": str(tmp_path),
    }

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


def last_chat(ollama: FakeOllama) -> dict[str, Any]:
    return ollama.requests_to("/api/chat")[-1].body  # type: ignore[no-any-return]


def test_config_set_is_validated_and_applied_to_the_next_answer(run, ollama: FakeOllama) -> None:  # type: ignore[no-untyped-def]
    listed = {e["key"]: e for e in json.loads(run("config", "list").stdout)}
    assert listed["llm.model"]["value"] == "llama3.2" and listed["llm.model"]["source"] == "default"

    too_hot = run("config", "set", "llm.temperature", "3")
    assert too_hot.exit_code == 2 and "between 0 and 2" in too_hot.stderr
    assert run("config", "set", "llm.max_tokens", "0").exit_code == 2
    missing = run("config", "set", "llm.model", "mistral:7b")
    assert missing.exit_code == 2 and "no model 'mistral:7b'" in missing.stderr
    assert run("config", "get", "llm.nope").exit_code == 2

    for key, value in (
        ("llm.temperature", "1.3"),
        ("llm.max_tokens", "7"),
        ("llm.model", "qwen2.5:0.5b"),
    ):
        assert run("config", "set", key, value).exit_code == 0
    assert run("config", "get", "llm.temperature").stdout.strip() == "1.3"  # piped: the value

    assert run("ask", "--json", "--no-rag", "hello there, how are you today?").exit_code == 0
    sent = last_chat(ollama)
    assert sent["model"] == "qwen2.5:0.5b"
    assert sent["options"]["temperature"] == 1.3 and sent["options"]["num_predict"] == 7

    refused = run("config", "delete", "llm.temperature")  # stdin is not a terminal: no prompt
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    for key in ("llm.temperature", "llm.max_tokens", "llm.model"):
        assert run("config", "delete", "--yes", key).exit_code == 0
    assert run("config", "delete", "--yes", "llm.model").exit_code == 2  # nothing left to delete
    assert run("ask", "--json", "--no-rag", "hello again, are you still there?").exit_code == 0
    sent = last_chat(ollama)
    assert sent["model"] == "llama3.2" and sent["options"]["temperature"] != 1.3


def test_debug_group_reports_components_queue_vectors_and_config_sources(run) -> None:  # type: ignore[no-untyped-def]
    assert "debug" not in run("--help").stdout  # hidden
    components = json.loads(run("debug", "components").stdout)
    assert {c["name"] for c in components} >= {"database", "llm", "vectors"}
    queue = json.loads(run("debug", "queue").stdout)
    assert queue["name"] == "learning" and "pending" in queue
    vectors = json.loads(run("debug", "vectors").stdout)
    assert "points" in vectors or "error" in vectors
    assert run("config", "set", "llm.top_p", "0.8").exit_code == 0
    sources = {s["name"]: s for s in json.loads(run("debug", "config").stdout)}
    assert sources["models.llm_url"]["source"] == "env"
    assert sources["models.llm_url"]["env"] == "MORGAN_LLM_URL"
    assert sources["database.pool_size"]["source"] == "default"
    assert sources["llm.top_p"] == {
        "name": "llm.top_p",
        "value": 0.8,
        "source": "runtime",
        "env": "",
    }
    assert run("config", "delete", "-y", "llm.top_p").exit_code == 0
