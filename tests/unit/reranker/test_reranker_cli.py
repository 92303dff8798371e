"""`morgan reranker serve` argument handling (the server itself runs in integration tests)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from morgan.reranker.cli import reranker_group


def test_serve_refuses_a_missing_model_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(reranker_group, ["serve", "--model-dir", str(tmp_path / "none")])
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_serve_refuses_a_directory_without_a_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(reranker_group, ["serve", "--model-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no ONNX model" in result.output


def test_serve_reads_the_model_directory_from_the_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        reranker_group, ["serve"], env={"MORGAN_RERANKER_MODEL_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert str(tmp_path) in result.output


def test_serve_help_lists_the_options() -> None:
    result = CliRunner().invoke(reranker_group, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--model-dir", "--host", "--port", "--max-length", "--batch-size"):
        assert option in result.output
