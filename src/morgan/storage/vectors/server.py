"""`VectorIndex` on a Qdrant server (the cluster), through qdrant-client over HTTP.

Keyword payload indexes on user, document and granularity let the server plan the filtered
searches; the six searches of one question go as one `query_batch_points` request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from qdrant_client import AsyncQdrantClient, models

from morgan.components import ComponentHealth
from morgan.storage.vectors import (
    DENSE,
    PAYLOAD_FIELDS,
    SPARSE,
    IndexStats,
    VectorHit,
    VectorIndexUnavailable,
    VectorPoint,
    VectorQuery,
)

log = structlog.get_logger(__name__)

SCROLL_PAGE = 512
UPSERT_BATCH = 256
"""Points per upsert request: a large document is several requests of about 1 MB each."""


class QdrantServerIndex:
    backend = "qdrant-server"

    def __init__(
        self,
        url: str,
        *,
        collection: str,
        dimension: int,
        api_key: str = "",
        client: AsyncQdrantClient | None = None,
    ) -> None:
        """`client` replaces the HTTP client (the contract suite passes qdrant-client's
        in-memory mode, which speaks the same API, when no server binary is at hand)."""
        self.url = url
        self.collection = collection
        self.dimension = dimension
        self.client = client or AsyncQdrantClient(url=url, api_key=api_key or None, timeout=10)

    async def ensure_collection(self) -> None:
        if await self._call(self.client.collection_exists(self.collection)):
            return
        await self._call(
            self.client.create_collection(
                self.collection,
                vectors_config={
                    DENSE: models.VectorParams(size=self.dimension, distance=models.Distance.COSINE)
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
        )
        for name in ("user_id", "document_id", "granularity"):
            await self._call(
                self.client.create_payload_index(
                    self.collection, name, field_schema=models.PayloadSchemaType.KEYWORD
                )
            )
        log.info("vector_collection_created", collection=self.collection, backend=self.backend)

    async def upsert(self, points: Sequence[VectorPoint]) -> None:
        for start in range(0, len(points), UPSERT_BATCH):  # bounded request bodies
            part = points[start : start + UPSERT_BATCH]
            await self._call(
                self.client.upsert(
                    self.collection, points=[_point_struct(p) for p in part], wait=True
                )
            )

    async def delete_document(self, user_id: uuid.UUID, document_id: uuid.UUID) -> None:
        await self._call(
            self.client.delete(
                self.collection,
                points_selector=models.FilterSelector(
                    filter=_filter(user_id, document_id=document_id)
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

    async def search(
        self, user_id: uuid.UUID, queries: Sequence[VectorQuery]
    ) -> list[list[VectorHit]]:
        requests: list[models.QueryRequest] = []
        slots: list[int] = []
        for i, q in enumerate(queries):
            if q.dense is None and not q.sparse_indices:
                continue  # a query with no terms matches nothing
            query: Any = (
                list(q.dense)
                if q.dense is not None
                else models.SparseVector(
                    indices=list(q.sparse_indices), values=list(q.sparse_values)
                )
            )
            requests.append(
                models.QueryRequest(
                    query=query,
                    using=DENSE if q.dense is not None else SPARSE,
                    filter=_filter(user_id, granularity=q.granularity),
                    limit=q.limit,
                    with_payload=list(PAYLOAD_FIELDS),
                )
            )
            slots.append(i)
        out: list[list[VectorHit]] = [[] for _ in queries]
        if not requests:
            return out
        responses = await self._call(self.client.query_batch_points(self.collection, requests))
        for slot, response in zip(slots, responses, strict=True):
            out[slot] = [_hit(p.id, p.payload, p.score) for p in response.points]
        return out

    async def count(self, user_id: uuid.UUID | None = None) -> int:
        flt = _filter(user_id) if user_id else None
        result = await self._call(self.client.count(self.collection, count_filter=flt, exact=True))
        return int(result.count)

    async def optimize(self) -> bool:
        return False  # the server runs its own optimizers in the background

    async def stats(self) -> IndexStats:
        info = await self._call(self.client.get_collection(self.collection))
        return IndexStats(
            backend=self.backend,
            location=self.url,
            points=int(info.points_count or 0),
            segments=info.segments_count,
            indexed_points=info.indexed_vectors_count,
            extra={"status": str(info.status)},
        )

    async def health(self) -> ComponentHealth:
        try:
            await self.client.collection_exists(self.collection)
            return ComponentHealth("vectors", self.backend, "up")
        except Exception as exc:  # noqa: BLE001
            return ComponentHealth("vectors", self.backend, "down", str(exc)[:300])

    async def close(self) -> None:
        await self.client.close()

    async def _call(self, awaitable):  # type: ignore[no-untyped-def]
        try:
            return await awaitable
        except Exception as exc:
            raise VectorIndexUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc


def _point_struct(p: VectorPoint) -> models.PointStruct:
    return models.PointStruct(
        id=str(p.chunk_id),
        vector={
            DENSE: list(p.dense),
            SPARSE: models.SparseVector(
                indices=list(p.sparse_indices), values=list(p.sparse_values)
            ),
        },
        payload=payload_of(p),
    )


def payload_of(p: VectorPoint) -> dict[str, str]:
    return {
        "user_id": str(p.user_id),
        "document_id": str(p.document_id),
        "section_id": str(p.section_id),
        "granularity": p.granularity,
    }


def _hit(point_id: Any, payload: dict[str, Any] | None, score: float) -> VectorHit:
    payload = payload or {}
    return VectorHit(
        chunk_id=uuid.UUID(str(point_id)),
        document_id=uuid.UUID(payload["document_id"]),
        section_id=uuid.UUID(payload["section_id"]),
        granularity=payload["granularity"],
        score=float(score),
    )


def _filter(
    user_id: uuid.UUID | None,
    *,
    granularity: str | None = None,
    document_id: uuid.UUID | None = None,
) -> models.Filter:
    must: list[models.Condition] = []
    if user_id is not None:
        must.append(
            models.FieldCondition(key="user_id", match=models.MatchValue(value=str(user_id)))
        )
    if granularity:
        must.append(
            models.FieldCondition(key="granularity", match=models.MatchValue(value=granularity))
        )
    if document_id:
        must.append(
            models.FieldCondition(
                key="document_id", match=models.MatchValue(value=str(document_id))
            )
        )
    return models.Filter(must=must)
