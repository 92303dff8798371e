"""The vector index: per chunk, one dense and one BM25-style sparse vector, filtered by user.

Two implementations behind `VectorIndex`:

* `EdgeVectorIndex` (embedded default): Qdrant Edge, Qdrant's engine in-process, in a folder
  under `MORGAN_HOME` (one process per folder);
* `QdrantServerIndex` (cluster): a Qdrant server through qdrant-client.

Every search carries a user filter evaluated inside the engine, so one user's chunks never
reach another user's results. Retrieval sends its six searches (dense and sparse over three
granularities) as one batch (`search`), and fuses them itself (`morgan.rag.fusion`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from morgan.components import ComponentHealth
from morgan.errors import DependencyUnavailable

DENSE = "dense"
SPARSE = "bm25"
PAYLOAD_FIELDS = ("document_id", "section_id", "granularity")


@dataclass(frozen=True, slots=True)
class VectorPoint:
    chunk_id: uuid.UUID
    user_id: uuid.UUID
    document_id: uuid.UUID
    section_id: uuid.UUID
    granularity: str
    dense: Sequence[float]
    sparse_indices: Sequence[int]
    sparse_values: Sequence[float]


@dataclass(frozen=True, slots=True)
class VectorHit:
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    section_id: uuid.UUID
    granularity: str
    score: float


@dataclass(frozen=True, slots=True)
class VectorQuery:
    """One search of a batch: `dense` set for a dense search, else the sparse pair."""

    granularity: str | None
    limit: int
    dense: Sequence[float] | None = None
    sparse_indices: Sequence[int] = field(default=())
    sparse_values: Sequence[float] = field(default=())

    @staticmethod
    def dense_query(vector: Sequence[float], *, granularity: str | None, limit: int) -> VectorQuery:
        return VectorQuery(granularity=granularity, limit=limit, dense=vector)

    @staticmethod
    def sparse_query(
        indices: Sequence[int], values: Sequence[float], *, granularity: str | None, limit: int
    ) -> VectorQuery:
        return VectorQuery(
            granularity=granularity, limit=limit, sparse_indices=indices, sparse_values=values
        )


@dataclass(frozen=True, slots=True)
class IndexStats:
    backend: str
    location: str
    points: int
    segments: int | None = None
    indexed_points: int | None = None
    """Points covered by an HNSW graph (Edge: as of the last optimize)."""
    extra: dict[str, Any] = field(default_factory=dict)


class VectorIndexUnavailable(Exception):
    """The index cannot be reached; retrieval falls back to keyword search."""


class VectorIndexLocked(VectorIndexUnavailable):
    """Another process holds the Edge folder (Edge allows one process per folder)."""


class VectorIndexBuilding(VectorIndexUnavailable, DependencyUnavailable):
    """The embedded index is building its HNSW graph in a child process (minutes at 200k
    points): searches fall back to keyword, and a write is refused with 503 + Retry-After
    (`retry_after`) rather than held open for minutes; the upload can simply be sent again."""

    code, title = "vector_index_building", "The vector index is being built"


class EmbeddingDimensionUnknown(RuntimeError):
    """The remote embedder has not answered yet, so its vector size is not known.

    Start-up must not wait for it: the vector collection is created once it is known.
    Raised by embedders (`morgan.llm.errors` re-exports it); defined here so that storage,
    which catches it, imports no feature module.
    """


@runtime_checkable
class VectorIndex(Protocol):
    backend: str
    dimension: int

    async def ensure_collection(self) -> None:
        """Open or create the collection. The embedded index also migrates here, and starts its
        HNSW build when due: in a child process (calls raise `VectorIndexBuilding` until it
        ends) or, with `startup_build="blocking"`, before it returns."""

    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Durable when it returns (acknowledged writes survive a crash). An empty batch
        writes nothing but raises where a write would be refused now (Edge building its
        graph): ingestion asks this before it spends extraction and embedding on an upload."""

    async def delete_document(self, user_id: uuid.UUID, document_id: uuid.UUID) -> None: ...

    async def delete_chunks(self, chunk_ids: Sequence[uuid.UUID]) -> None: ...

    async def search(
        self, user_id: uuid.UUID, queries: Sequence[VectorQuery]
    ) -> list[list[VectorHit]]:
        """All queries as one batch; one hit list per query, in order."""

    async def count(self, user_id: uuid.UUID | None = None) -> int: ...

    async def optimize(self) -> bool:
        """Build the ANN indexes now; True if anything was built. Never while serving."""

    async def stats(self) -> IndexStats: ...

    async def health(self) -> ComponentHealth: ...

    async def close(self) -> None: ...


def is_server_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def build_vector_index(
    url: str,
    *,
    collection: str,
    dimension: int,
    api_key: str = "",
    optimize_at: int | None = None,
    startup_build: str = "background",
) -> VectorIndex:
    """`http(s)://` -> a Qdrant server; anything else is the Edge folder (`optimize_at`,
    `startup_build`: when and how opening builds its HNSW graph; None: Edge's default;
    `startup_build="off"`: never, for tools that open the folder briefly)."""
    if is_server_url(url):
        from morgan.storage.vectors.server import QdrantServerIndex

        return QdrantServerIndex(url, collection=collection, dimension=dimension, api_key=api_key)
    from morgan.storage.vectors.edge import OPTIMIZE_AT, EdgeVectorIndex

    return EdgeVectorIndex(
        Path(url),
        collection=collection,
        dimension=dimension,
        optimize_at=None
        if startup_build == "off"
        else (OPTIMIZE_AT if optimize_at is None else optimize_at),
        build_in_child=startup_build != "blocking",
    )


def backend_name(url: str) -> str:
    return "qdrant-server" if is_server_url(url) else "qdrant-edge"


__all__ = [
    "DENSE",
    "SPARSE",
    "IndexStats",
    "VectorHit",
    "VectorIndex",
    "VectorIndexBuilding",
    "VectorIndexLocked",
    "VectorIndexUnavailable",
    "VectorPoint",
    "VectorQuery",
    "backend_name",
    "build_vector_index",
]
