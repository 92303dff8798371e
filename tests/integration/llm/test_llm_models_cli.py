"""`morgan models` against the Ollama contract fake, driven with click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from morgan.cli.main import cli
from tests.contract_fakes.ollama import FakeOllama


@pytest.fixture
def invoke(morgan_home: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(
            cli, ["models", *args], env={"MORGAN_HOME": str(morgan_home), **(env or {})}
        )

    return run


def test_list_json_reports_the_pulled_models_and_marks_the_configured_one(
    invoke, fake_ollama: FakeOllama
) -> None:  # type: ignore[no-untyped-def]
    result = invoke(
        "list",
        "--json",
        env={"MORGAN_LLM_URL": fake_ollama.base_url, "MORGAN_LLM_MODEL": "llama3.2"},
    )
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"llama3.2:latest", "nomic-embed-text:latest"}
    assert rows["llama3.2:latest"]["configured"] is True
    assert rows["nomic-embed-text:latest"]["configured"] is False
    assert rows["llama3.2:latest"]["parameter_size"] == "3.2B"
    assert rows["nomic-embed-text:latest"]["quantization_level"] == "F16"
    assert [r.path for r in fake_ollama.requests] == ["/api/tags"]


def test_list_table_names_models_and_warns_about_a_configured_model_not_pulled(
    invoke, fake_ollama: FakeOllama
) -> None:  # type: ignore[no-untyped-def]
    result = invoke("list", "--url", fake_ollama.base_url, env={"MORGAN_LLM_MODEL": "qwen2.5:0.5b"})
    assert result.exit_code == 0, result.output
    assert "llama3.2:latest" in result.stdout and "nomic-embed-text:latest" in result.stdout
    assert "2.0 GB" in result.stdout
    assert "configured but not pulled" in result.stdout and "qwen2.5:0.5b" in result.stdout


def test_pull_streams_progress_then_the_model_is_listed(invoke, fake_ollama: FakeOllama) -> None:  # type: ignore[no-untyped-def]
    env = {"MORGAN_LLM_URL": fake_ollama.base_url.replace("http://", "ollama://")}
    result = invoke("pull", "qwen2.5:0.5b", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "pulled qwen2.5:0.5b"
    progress = result.stderr.splitlines()
    assert progress[0] == "pulling manifest"
    assert [line.rsplit("(", 1)[-1] for line in progress if "bytes" in line] == [
        "0%)",
        "33%)",
        "67%)",
        "100%)",
    ]
    assert progress[-1] == "success"
    assert fake_ollama.requests_to("/api/pull")[0].body == {"model": "qwen2.5:0.5b", "stream": True}

    listed = invoke("list", "--json", env=env)
    assert "qwen2.5:0.5b" in {row["name"] for row in json.loads(listed.stdout)}


def test_pull_draws_a_progress_bar_on_a_terminal(invoke, fake_ollama: FakeOllama) -> None:  # type: ignore[no-untyped-def]
    result = invoke(
        "pull",
        "nomic-embed-text",
        "--url",
        fake_ollama.base_url,
        env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "0", "COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    assert "━" in result.stderr  # the bar itself
    assert "3.0/3.0 kB" in result.stderr  # the layer's bytes, complete


def test_pull_of_an_unknown_model_is_a_server_error_with_ollamas_message(
    invoke, fake_ollama: FakeOllama
) -> None:  # type: ignore[no-untyped-def]
    result = invoke("pull", "no-such-model", "--url", fake_ollama.base_url)
    assert result.exit_code == 5
    assert "file does not exist" in result.stderr


def test_unreachable_ollama_exits_3(invoke, closed_port_url: str) -> None:  # type: ignore[no-untyped-def]
    for args in (("list",), ("list", "--json"), ("pull", "llama3.2")):
        result = invoke(*args, env={"MORGAN_LLM_URL": closed_port_url})
        assert result.exit_code == 3, (args, result.output)
        assert "cannot reach Ollama" in result.stderr
        assert result.stdout == ""


@pytest.mark.parametrize(
    "llm_url", ["embedded://gemma3-270m", "extractive://", "openai+http://127.0.0.1:9/v1"]
)
def test_a_non_ollama_llm_exits_2(invoke, llm_url: str) -> None:  # type: ignore[no-untyped-def]
    result = invoke("list", env={"MORGAN_LLM_URL": llm_url})
    assert result.exit_code == 2
    assert "not an Ollama server" in result.stderr and llm_url in result.stderr
