"""`morgan.onnx_models`: one offline loader for a model folder, on a tiny BERT cross-encoder
this test builds (scripts/build_tiny_cross_encoder.py: random weights, exported to ONNX)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from morgan.onnx_models import (
    ModelFolderError,
    find_onnx_file,
    load_tokenizer,
    load_tokenizer_file,
    model_folder,
    open_session,
)

BUILDER = Path(__file__).parents[2] / "scripts" / "build_tiny_cross_encoder.py"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("build_tiny_cross_encoder", BUILDER)
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    folder: Path = builder.build_tiny_cross_encoder(
        tmp_path_factory.mktemp("tiny") / "cross-encoder", onnx_subdir=True
    )
    return folder


def test_the_folder_loads_and_runs(tiny: Path) -> None:
    model_file = find_onnx_file(tiny)
    assert model_file == tiny / "onnx" / "model.onnx"
    tokenizer = load_tokenizer(tiny, fast=True)
    encoded = tokenizer(["the tomato"], ["the tomato needs sun"], return_tensors="np")
    session = open_session(model_file, intra_op_threads=1, inter_op_threads=1, spinning=False)
    feed = {
        i.name: np.asarray(encoded[i.name], dtype=np.int64)
        for i in session.get_inputs()
        if i.name in encoded
    }
    (logits,) = session.run(None, feed)
    assert logits.shape == (1, 1)
    # tokenizer.json alone gives the same ids (MiniLM loads it without transformers).
    ids = load_tokenizer_file(tiny).encode("the tomato", "the tomato needs sun").ids
    assert ids == encoded["input_ids"][0].tolist()


@pytest.mark.parametrize(
    "load",
    [model_folder, find_onnx_file, load_tokenizer, load_tokenizer_file],
    ids=["folder", "onnx", "tokenizer", "tokenizer.json"],
)
def test_a_missing_folder_is_an_error_never_a_model_id_to_download(
    load: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative to an empty directory, this hub id names no folder: transformers alone would
    # try to fetch it; the loader refuses before transformers sees it.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFolderError, match="directory does not exist"):
        load("cross-encoder/ms-marco-MiniLM-L-6-v2")  # type: ignore[operator]


def test_each_failure_names_the_file_and_is_the_callers_error(tiny: Path, tmp_path: Path) -> None:
    class ReaderError(Exception):
        pass

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReaderError, match=r"no ONNX model in .*model\.onnx \(export it\)"):
        find_onnx_file(empty, hint="export it", error=ReaderError)
    with pytest.raises(ReaderError, match="cannot load the tokenizer from"):
        load_tokenizer(empty, error=ReaderError)
    with pytest.raises(ReaderError, match="cannot load the tokenizer .*tokenizer.json"):
        load_tokenizer_file(empty, error=ReaderError)
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(ReaderError, match="cannot load ONNX model"):
        open_session(broken, error=ReaderError)


def test_any_onnx_file_only_when_asked(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "renamed"
    folder.mkdir()
    shutil.copy(tiny / "onnx" / "model.onnx", folder / "classifier.onnx")
    with pytest.raises(ModelFolderError, match="no ONNX model"):
        find_onnx_file(folder)
    assert find_onnx_file(folder, any_onnx=True) == folder / "classifier.onnx"
