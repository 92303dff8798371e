"""The ONNX Runtime engine of MiniLM gives the torch engine's vectors (the shipped
safetensors exported locally), for padded batches, truncated and duplicate texts alike."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from morgan.llm.minilm import MiniLMEmbedder
from morgan.llm.priority import BACKGROUND_NICE, background_work

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


def _computing_threads(onnx: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """(thread name, nice value) of every ONNX run from now on."""
    seen: list[tuple] = []
    forward = onnx._forward

    def recording(ids, mask):  # type: ignore[no-untyped-def]
        tid = threading.get_native_id()
        seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, tid)))
        return forward(ids, mask)

    monkeypatch.setattr(onnx, "_forward", recording)
    return seen


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux")
def test_background_batches_run_on_lowest_priority_threads(
    engines: tuple[MiniLMEmbedder, MiniLMEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingestion's batches compute on niced threads, a chat's query on the caller's thread at
    the caller's priority: the query takes a core from an ingest batch at once."""
    onnx, _ = engines
    seen = _computing_threads(onnx, monkeypatch)
    normal = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    query = onnx.embed_array([TEXTS[1]])
    assert seen == [(threading.current_thread().name, normal)]
    seen.clear()
    with background_work():
        ingested = onnx.embed_array(TEXTS)
    assert seen and all(name.startswith("minilm-background") for name, _ in seen), seen
    assert {nice for _, nice in seen} == {BACKGROUND_NICE}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == normal
    assert float((ingested[1] * query[0]).sum()) >= 0.99999  # the same vectors either way
    assert np.allclose(ingested, onnx.embed_array(TEXTS), atol=1e-6)


async def test_background_mark_reaches_the_embedding_thread(
    engines: tuple[MiniLMEmbedder, MiniLMEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`embed()` hops to a worker thread; the mark set by the ingesting task goes with it,
    and does not leak to a concurrent chat's call."""
    onnx, _ = engines
    seen = _computing_threads(onnx, monkeypatch)

    async def ingest() -> None:
        with background_work():
            await onnx.embed(TEXTS[:3])

    await asyncio.gather(ingest(), onnx.embed([TEXTS[0]]))
    background = [name for name, _ in seen if name.startswith("minilm-background")]
    assert len(background) >= 1 and len(seen) - len(background) == 1, seen
