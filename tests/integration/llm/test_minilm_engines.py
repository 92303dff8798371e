"""The ONNX Runtime engine of MiniLM gives the torch engine's vectors (the shipped
safetensors exported locally), for padded batches, truncated and duplicate texts alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from morgan.llm.minilm import MiniLMEmbedder

TEXTS = [
    "The default weight value is 50.",
    "pypdf extracts text from each page of a PDF.",
    "Ein kurzer deutscher Satz über Geometrie.",
    "",
    "word " * 600,  # truncated at 256 tokens
    "The default weight value is 50.",  # a duplicate, embedded once
    "Les émotions sont complexes 😀",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[MiniLMEmbedder, MiniLMEmbedder]:
    cache = tmp_path_factory.mktemp("minilm-cache")
    onnx = MiniLMEmbedder(engine="onnx", cache_dir=cache, batch_size=3)
    torch = MiniLMEmbedder(engine="torch", batch_size=3)
    onnx.warm_up()
    torch.warm_up()
    return onnx, torch


def test_onnx_vectors_match_torch(engines: tuple[MiniLMEmbedder, MiniLMEmbedder]) -> None:
    onnx, torch = engines
    assert (onnx.engine, torch.engine) == ("onnxruntime", "torch")
    a, b = onnx.embed_array(TEXTS), torch.embed_array(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() >= 0.999, cosine
    assert np.array_equal(a[0], a[5])


def test_export_is_cached_under_cache_dir(
    engines: tuple[MiniLMEmbedder, MiniLMEmbedder], tmp_path: Path
) -> None:
    onnx, _ = engines
    path = onnx.onnx_path()
    assert path.is_file() and onnx.cache_dir is not None and onnx.cache_dir in path.parents
    again = MiniLMEmbedder(engine="onnx", cache_dir=onnx.cache_dir)
    again.warm_up()  # loads the cached export (no torch export)
    assert np.allclose(again.embed_array(TEXTS[:2]), onnx.embed_array(TEXTS[:2]), atol=1e-5)


def test_batching_does_not_change_a_vector(
    engines: tuple[MiniLMEmbedder, MiniLMEmbedder],
) -> None:
    onnx, _ = engines
    batch = onnx.embed_array(TEXTS)
    alone = onnx.embed_array([TEXTS[4]])
    assert float((batch[4] * alone[0]).sum()) >= 0.99999


def test_token_counts_are_not_truncated(engines: tuple[MiniLMEmbedder, MiniLMEmbedder]) -> None:
    onnx, _ = engines
    assert onnx.count_tokens("word " * 600) == 600
