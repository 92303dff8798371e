"""The vector index: one Qdrant collection with a dense and a BM25-style sparse vector per chunk.

Local mode (`path`) in the embedded default, a Qdrant server (`http://`) in the cluster; the
same calls work on both. Every query carries a user filter evaluated inside Qdrant, so one
user's chunks never reach another user's results, not even before a later filter step.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from qdrant_client import AsyncQdrantClient, models

from morgan.components import ComponentHealth

log = structlog.get_logger(__name__)

DENSE = "dense"
SPARSE = "bm25"


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


class VectorIndexUnavailable(Exception):
    """The index cannot be reached; retrieval falls back to keyword search."""


class QdrantVectorIndex:
    def __init__(self, url: str, *, collection: str, dimension: int, api_key: str = "") -> None:
        self.url = url
        self.collection = collection
        self.dimension = dimension
        self.is_server = url.startswith(("http://", "https://"))
        if self.is_server:
            self.client = AsyncQdrantClient(url=url, api_key=api_key or None, timeout=10)
        else:
            Path(url).mkdir(parents=True, exist_ok=True)
            self.client = AsyncQdrantClient(path=url)
        self.backend = "qdrant-server" if self.is_server else "qdrant-local"

    async def ensure_collection(self) -> None:
        if await self.client.collection_exists(self.collection):
            return
        await self.client.create_collection(
            self.collection,
            vectors_config={DENSE: models.VectorParams(size=self.dimension, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if self.is_server:
            for field in ("user_id", "document_id", "granularity"):
                await self.client.create_payload_index(
                    self.collection, field, field_schema=models.PayloadSchemaType.KEYWORD
                )
        log.info("vector_collection_created", collection=self.collection, backend=self.backend)

    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        await self._call(
            self.client.upsert(
                self.collection,
                points=[
                    models.PointStruct(
                        id=str(p.chunk_id),
                        vector={
                            DENSE: list(p.dense),
                            SPARSE: models.SparseVector(
                                indices=list(p.sparse_indices), values=list(p.sparse_values)
                            ),
                        },
                        payload={
                            "user_id": str(p.user_id),
                            "document_id": str(p.document_id),
                            "section_id": str(p.section_id),
                            "granularity": p.granularity,
                        },
                    )
                    for p in points
                ],
                wait=True,
            )
        )

    async def delete_document(self, user_id: uuid.UUID, document_id: uuid.UUID) -> None:
        await self._call(
            self.client.delete(
                self.collection,
                points_selector=models.FilterSelector(
                    filter=self._filter(user_id, document_id=document_id)
                ),
                wait=True,
            )
        )

    async def delete_chunks(self, chunk_ids: Sequence[uuid.UUID]) -> None:
        if chunk_ids:
            await self._call(
                self.client.delete(
                    self.collection,
                    points_selector=models.PointIdsList(points=[str(c) for c in chunk_ids]),
                    wait=True,
                )
            )

    async def search_dense(
        self, user_id: uuid.UUID, vector: Sequence[float], *, granularity: str | None, limit: int
    ) -> list[VectorHit]:
        return await self._query(user_id, list(vector), DENSE, granularity, limit)

    async def search_sparse(
        self,
        user_id: uuid.UUID,
        indices: Sequence[int],
        values: Sequence[float],
        *,
        granularity: str | None,
        limit: int,
    ) -> list[VectorHit]:
        if not indices:
            return []
        query = models.SparseVector(indices=list(indices), values=list(values))
        return await self._query(user_id, query, SPARSE, granularity, limit)

    async def count(self, user_id: uuid.UUID | None = None) -> int:
        flt = self._filter(user_id) if user_id else None
        result = await self._call(self.client.count(self.collection, count_filter=flt, exact=True))
        return int(result.count)

    async def health(self) -> ComponentHealth:
        try:
            await self.client.collection_exists(self.collection)
            return ComponentHealth("vectors", self.backend, "up")
        except Exception as exc:  # noqa: BLE001
            return ComponentHealth("vectors", self.backend, "down", str(exc)[:300])

    async def close(self) -> None:
        await self.client.close()

    async def _query(
        self,
        user_id: uuid.UUID,
        query: list[float] | models.SparseVector,
        using: str,
        granularity: str | None,
        limit: int,
    ) -> list[VectorHit]:
        response = await self._call(
            self.client.query_points(
                self.collection,
                query=query,
                using=using,
                query_filter=self._filter(user_id, granularity=granularity),
                limit=limit,
                with_payload=["document_id", "section_id", "granularity"],
            )
        )
        return [
            VectorHit(
                chunk_id=uuid.UUID(str(p.id)),
                document_id=uuid.UUID(p.payload["document_id"]),
                section_id=uuid.UUID(p.payload["section_id"]),
                granularity=p.payload["granularity"],
                score=float(p.score),
            )
            for p in response.points
        ]

    @staticmethod
    def _filter(
        user_id: uuid.UUID | None,
        *,
        granularity: str | None = None,
        document_id: uuid.UUID | None = None,
    ) -> models.Filter:
        must: list[models.Condition] = []
        if user_id is not None:
            must.append(models.FieldCondition(key="user_id", match=models.MatchValue(value=str(user_id))))
        if granularity:
            must.append(models.FieldCondition(key="granularity", match=models.MatchValue(value=granularity)))
        if document_id:
            must.append(
                models.FieldCondition(key="document_id", match=models.MatchValue(value=str(document_id)))
            )
        return models.Filter(must=must)

    async def _call(self, awaitable):  # type: ignore[no-untyped-def]
        try:
            return await awaitable
        except Exception as exc:
            raise VectorIndexUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc
