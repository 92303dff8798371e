"""One contract for every `VectorIndex`: Qdrant Edge (embedded) and the Qdrant server backend.

The server backend (`QdrantServerIndex`) runs against qdrant-client's in-memory local mode,
which answers the same client API (`query_batch_points`, filtered deletes, counts) as a
server: no Qdrant server binary can be installed here (none ships on PyPI), so the HTTP
transport itself is not exercised; the request building, batching and result mapping are.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient

from morgan.storage.vectors import (
    VectorIndex,
    VectorIndexUnavailable,
    VectorPoint,
    VectorQuery,
)
from morgan.storage.vectors.edge import EdgeVectorIndex
from morgan.storage.vectors.server import QdrantServerIndex

DIM = 16
GRANULARITIES = ("coarse", "medium", "fine")


@pytest.fixture(params=["edge", "server"])
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorIndex]:
    if request.param == "edge":
        idx: VectorIndex = EdgeVectorIndex(tmp_path / "vectors", dimension=DIM)
    else:
        idx = QdrantServerIndex(
            "http://stand-in",
            collection="contract",
            dimension=DIM,
            client=AsyncQdrantClient(location=":memory:"),
        )
    await idx.ensure_collection()
    yield idx
    await idx.close()


def unit(rng: np.random.Generator) -> list[float]:
    v = rng.normal(size=DIM)
    return (v / np.linalg.norm(v)).tolist()


def make_points(
    user: uuid.UUID, document: uuid.UUID, n: int, rng: np.random.Generator, *, term0: int = 0
) -> list[VectorPoint]:
    section = uuid.uuid4()
    return [
        VectorPoint(
            chunk_id=uuid.uuid4(),
            user_id=user,
            document_id=document,
            section_id=section,
            granularity=GRANULARITIES[i % 3],
            dense=unit(rng),
            sparse_indices=[term0 + i, 10_000],
            sparse_values=[1.0, 0.5],
        )
        for i in range(n)
    ]


async def test_dense_search_is_exact_per_user_and_granularity(index: VectorIndex) -> None:
    rng = np.random.default_rng(1)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    pa = make_points(alice, uuid.uuid4(), 30, rng)
    pb = make_points(bob, uuid.uuid4(), 30, rng)
    await index.upsert(pa + pb)
    q = unit(rng)
    (hits,) = await index.search(alice, [VectorQuery.dense_query(q, granularity="fine", limit=5)])
    expected = sorted(
        (p for p in pa if p.granularity == "fine"), key=lambda p: -float(np.dot(p.dense, q))
    )[:5]
    assert [h.chunk_id for h in hits] == [p.chunk_id for p in expected]
    assert all(h.granularity == "fine" and h.document_id == pa[0].document_id for h in hits)
    assert hits[0].score == pytest.approx(float(np.dot(expected[0].dense, q)), abs=1e-4)
    assert {h.section_id for h in hits} == {pa[0].section_id}


async def test_batch_answers_each_query_in_order(index: VectorIndex) -> None:
    rng = np.random.default_rng(2)
    user = uuid.uuid4()
    points = make_points(user, uuid.uuid4(), 30, rng)
    await index.upsert(points)
    target = points[4]  # granularity "medium", unique term 4
    queries = (
        [VectorQuery.dense_query(target.dense, granularity=g, limit=3) for g in GRANULARITIES]
        + [VectorQuery.sparse_query([4], [1.0], granularity=g, limit=3) for g in GRANULARITIES]
        + [VectorQuery.sparse_query([], [], granularity=None, limit=3)]
    )
    results = await index.search(user, queries)
    assert len(results) == 7
    for g, hits in zip(GRANULARITIES, results[:3], strict=True):
        assert len(hits) == 3 and all(h.granularity == g for h in hits)
    assert results[1][0].chunk_id == target.chunk_id  # dense, medium: itself first
    assert [h.chunk_id for h in results[4]] == [target.chunk_id]  # sparse, medium: only match
    assert results[3] == [] and results[5] == []  # the term is only on a medium chunk
    assert results[6] == []  # no terms, no hits


async def test_upsert_replaces_same_id_and_counts(index: VectorIndex) -> None:
    rng = np.random.default_rng(3)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    pa = make_points(alice, uuid.uuid4(), 9, rng)
    await index.upsert(pa + make_points(bob, uuid.uuid4(), 4, rng))
    moved = VectorPoint(
        **{**{f: getattr(pa[0], f) for f in pa[0].__slots__}, "granularity": "fine"}
    )
    await index.upsert([moved])
    assert await index.count(alice) == 9
    assert await index.count(bob) == 4
    assert await index.count() == 13
    (hits,) = await index.search(
        alice, [VectorQuery.dense_query(pa[0].dense, granularity="fine", limit=1)]
    )
    assert hits[0].chunk_id == pa[0].chunk_id
    assert (await index.stats()).points == 13


async def test_a_whole_document_in_one_upsert_lands_whole(index: VectorIndex) -> None:
    """Ingestion sends a document's points in one call; each backend cuts it into its own
    batches (Edge updates, server requests), and every point is searchable afterwards."""
    rng = np.random.default_rng(5)
    user, document = uuid.uuid4(), uuid.uuid4()
    points = make_points(user, document, 600, rng)  # over Edge's 64 and the server's 256
    await index.upsert(points)
    assert await index.count(user) == 600
    last = points[-1]
    (hits,) = await index.search(
        user, [VectorQuery.dense_query(last.dense, granularity=last.granularity, limit=1)]
    )
    assert hits[0].chunk_id == last.chunk_id


async def test_deletes_touch_only_their_target(index: VectorIndex) -> None:
    rng = np.random.default_rng(4)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    doc1, doc2 = uuid.uuid4(), uuid.uuid4()
    p1 = make_points(alice, doc1, 6, rng)
    p2 = make_points(alice, doc2, 6, rng)
    pb = make_points(bob, doc1, 6, rng)  # same document id under another user
    await index.upsert(p1 + p2 + pb)
    await index.delete_document(alice, doc1)
    assert await index.count(alice) == 6
    assert await index.count(bob) == 6
    await index.delete_chunks([p2[0].chunk_id, p2[1].chunk_id])
    await index.delete_chunks([])
    assert await index.count(alice) == 4
    results = await index.search(
        alice, [VectorQuery.dense_query(p.dense, granularity=None, limit=10) for p in p1[:2]]
    )
    remaining = {p.chunk_id for p in p2[2:]}
    assert all({h.chunk_id for h in hits} == remaining for hits in results)


async def test_concurrent_calls_all_complete(index: VectorIndex) -> None:
    rng = np.random.default_rng(5)
    user = uuid.uuid4()
    batches = [make_points(user, uuid.uuid4(), 10, rng) for _ in range(5)]
    query = VectorQuery.dense_query(unit(rng), granularity=None, limit=3)
    await asyncio.gather(*(index.upsert(b) for b in batches), index.search(user, [query]))
    assert await index.count(user) == 50


async def test_health_up_then_unavailable_after_close(index: VectorIndex) -> None:
    assert (await index.health()).state == "up"
    await index.close()
    with pytest.raises(VectorIndexUnavailable):
        await index.search(
            uuid.uuid4(), [VectorQuery.dense_query([1.0] * DIM, granularity=None, limit=1)]
        )
