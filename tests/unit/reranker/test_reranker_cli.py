"""`morgan reranker serve|fetch` argument handling; fetch from a folder and an http archive."""

from __future__ import annotations

import http.server
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from morgan.reranker.cli import reranker_group


def test_serve_help_lists_the_options() -> None:
    result = CliRunner().invoke(reranker_group, ["serve", "--help"])
    assert result.exit_code == 0
    for option in (
        "--model-dir",
        "--host",
        "--port",
        "--max-length",
        "--batch-size",
        "--model-poll-seconds",
    ):
        assert option in result.output


def test_fetch_from_a_folder_fills_the_model_dir_and_is_idempotent(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "models" / "reranker"
    result = CliRunner().invoke(
        reranker_group, ["fetch", "--from", str(tiny_model_dir), "--to", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert (target / "model.onnx").read_bytes() == (tiny_model_dir / "model.onnx").read_bytes()
    again = CliRunner().invoke(
        reranker_group, ["fetch", "--from", str(tmp_path / "gone"), "--to", str(target)]
    )
    assert again.exit_code == 0, again.output  # already there: nothing fetched


def test_fetch_refuses_a_source_without_a_model_and_leaves_the_target_alone(
    tmp_path: Path,
) -> None:
    source = tmp_path / "empty"
    source.mkdir()
    (source / "README").write_text("no model here")
    target = tmp_path / "models"
    result = CliRunner().invoke(
        reranker_group, ["fetch", "--from", str(source), "--to", str(target)]
    )
    assert result.exit_code == 1
    assert "no ONNX model" in result.output
    assert not target.exists() or not any(target.iterdir())


@pytest.fixture
def archive_server(tiny_model_dir: Path, tmp_path: Path) -> Iterator[str]:
    served = tmp_path / "www"
    served.mkdir()
    with tarfile.open(served / "cross-encoder.tar.gz", "w:gz") as archive:
        archive.add(tiny_model_dir, arcname="ms-marco-tiny")  # one top folder, as on a hub
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


def test_fetch_from_an_http_archive(
    archive_server: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "models"
    result = CliRunner().invoke(
        reranker_group,
        ["fetch", "--from", f"{archive_server}/cross-encoder.tar.gz", "--to", str(target)],
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in target.iterdir()} == {p.name for p in tiny_model_dir.iterdir()}
    missing = CliRunner().invoke(
        reranker_group,
        ["fetch", "--force", "--from", f"{archive_server}/nothing.tar.gz", "--to", str(target)],
    )
    assert missing.exit_code == 1 and "HTTP 404" in missing.output
    assert (target / "model.onnx").is_file()  # a failed fetch keeps the model that was there
