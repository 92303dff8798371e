"""Repository for documents, their chunks and the keyword index, always scoped to one user."""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from morgan.errors import NotFound
from morgan.storage.db import Database
from morgan.storage.models import Document, DocumentChunk, IngestionJob


@dataclass(frozen=True, slots=True)
class KeywordHit:
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    section_id: uuid.UUID
    granularity: str
    score: float


_FTS_WORD = re.compile(r"\w+", re.UNICODE)


class DocumentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- documents -------------------------------------------------------------------------
    async def get(self, user_id: uuid.UUID, document_id: uuid.UUID) -> Document:
        async with self.db.session() as session:
            doc = await session.scalar(
                select(Document).where(Document.id == document_id, Document.user_id == user_id)
            )
        if doc is None:
            raise NotFound(f"document {document_id} not found")
        return doc

    async def find_by_source(self, user_id: uuid.UUID, source: str) -> Document | None:
        async with self.db.session() as session:
            return await session.scalar(
                select(Document).where(Document.user_id == user_id, Document.source == source)
            )

    async def find_ready_by_hash(self, user_id: uuid.UUID, content_hash: str) -> Document | None:
        async with self.db.session() as session:
            return await session.scalar(
                select(Document)
                .where(
                    Document.user_id == user_id,
                    Document.content_hash == content_hash,
                    Document.status == "ready",
                )
                .limit(1)
            )

    async def list(
        self, user_id: uuid.UUID, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[Document]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Document)
                .where(Document.user_id == user_id)
                .order_by(Document.created_at.desc(), Document.id)
                .limit(limit)
                .offset(offset)
            )
            return list(rows)

    async def count(self, user_id: uuid.UUID | None = None) -> tuple[int, int]:
        """(documents, chunks), for one user or everyone."""
        async with self.db.session() as session:
            doc_q = select(func.count(Document.id))
            chunk_q = select(func.count(DocumentChunk.id))
            if user_id is not None:
                doc_q = doc_q.where(Document.user_id == user_id)
                chunk_q = chunk_q.where(DocumentChunk.user_id == user_id)
            return int(await session.scalar(doc_q) or 0), int(await session.scalar(chunk_q) or 0)

    async def chunk_counts(self, document_id: uuid.UUID) -> dict[str, int]:
        """Chunks per granularity (coarse, medium, fine) of one document."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(DocumentChunk.granularity, func.count(DocumentChunk.id))
                .where(DocumentChunk.document_id == document_id)
                .group_by(DocumentChunk.granularity)
            )
            return {str(g): int(n) for g, n in rows.all()}

    async def chunk_ids(self, document_id: uuid.UUID) -> builtins.list[uuid.UUID]:
        async with self.db.session() as session:
            return list(
                await session.scalars(
                    select(DocumentChunk.id).where(DocumentChunk.document_id == document_id)
                )
            )

    async def save_document(
        self, document: Document, chunks: Sequence[DocumentChunk], *, replace: Document | None
    ) -> None:
        """One transaction: the replaced document's rows go, the new ones arrive, or nothing."""
        async with self.db.transaction() as session:
            if replace is not None:
                await self._delete_rows(session, replace.id)
                await session.execute(delete(Document).where(Document.id == replace.id))
                await session.flush()
            session.add(document)
            await session.flush()
            # Parents first: fine chunks point at medium, medium at coarse.
            for granularity in ("coarse", "medium", "fine"):
                session.add_all([c for c in chunks if c.granularity == granularity])
                await session.flush()
            await self._index_keywords(session, chunks)

    async def delete_document(self, user_id: uuid.UUID, document_id: uuid.UUID) -> Document:
        async with self.db.transaction() as session:
            doc = await session.scalar(
                select(Document).where(Document.id == document_id, Document.user_id == user_id)
            )
            if doc is None:
                raise NotFound(f"document {document_id} not found")
            await self._delete_rows(session, doc.id)
            await session.execute(delete(Document).where(Document.id == doc.id))
        return doc

    async def chunks_by_ids(
        self, user_id: uuid.UUID, chunk_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, DocumentChunk]:
        if not chunk_ids:
            return {}
        async with self.db.session() as session:
            rows = await session.scalars(
                select(DocumentChunk).where(
                    DocumentChunk.id.in_(list(chunk_ids)), DocumentChunk.user_id == user_id
                )
            )
            return {c.id: c for c in rows}

    async def documents_by_ids(
        self, user_id: uuid.UUID, document_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Document]:
        if not document_ids:
            return {}
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Document).where(
                    Document.id.in_(list(set(document_ids))), Document.user_id == user_id
                )
            )
            return {d.id: d for d in rows}

    # -- keyword index (the degraded search path) ------------------------------------------
    async def _index_keywords(self, session: AsyncSession, chunks: Sequence[DocumentChunk]) -> None:
        if self.db.dialect != "sqlite" or not chunks:
            return  # PostgreSQL indexes document_chunks.text itself (GIN expression index)
        await session.execute(
            text(
                "INSERT INTO document_chunks_fts (text, chunk_id, user_id, granularity) "
                "VALUES (:text, :chunk_id, :user_id, :granularity)"
            ),
            [
                {
                    "text": c.text,
                    "chunk_id": c.id.hex,
                    "user_id": c.user_id.hex,
                    "granularity": c.granularity,
                }
                for c in chunks
            ],
        )

    async def _delete_rows(self, session: AsyncSession, document_id: uuid.UUID) -> None:
        if self.db.dialect == "sqlite":
            ids = [
                i.hex
                for i in await session.scalars(
                    select(DocumentChunk.id).where(DocumentChunk.document_id == document_id)
                )
            ]
            for start in range(0, len(ids), 500):
                batch = ids[start : start + 500]
                marks = ",".join(f":c{i}" for i in range(len(batch)))
                await session.execute(
                    text(f"DELETE FROM document_chunks_fts WHERE chunk_id IN ({marks})"),  # noqa: S608
                    {f"c{i}": v for i, v in enumerate(batch)},
                )
        # Children before parents, so the self-referencing FK never blocks the delete.
        for granularity in ("fine", "medium", "coarse"):
            await session.execute(
                delete(DocumentChunk).where(
                    DocumentChunk.document_id == document_id,
                    DocumentChunk.granularity == granularity,
                )
            )

    async def keyword_search(
        self, user_id: uuid.UUID, query: str, *, granularity: str | None, limit: int
    ) -> builtins.list[KeywordHit]:
        words = _FTS_WORD.findall(query.lower())[:32]
        if not words:
            return []
        async with self.db.session() as session:
            if self.db.dialect == "sqlite":
                match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
                sql = (
                    "SELECT f.chunk_id AS cid, bm25(document_chunks_fts) AS rank "
                    "FROM document_chunks_fts f WHERE document_chunks_fts MATCH :match "
                    "AND f.user_id = :user_id"
                    + (" AND f.granularity = :granularity" if granularity else "")
                    + " ORDER BY rank LIMIT :limit"
                )
                params = {"match": match, "user_id": user_id.hex, "limit": limit}
                if granularity:
                    params["granularity"] = granularity
                rows = (await session.execute(text(sql), params)).all()
                scored = [(uuid.UUID(r.cid), -float(r.rank)) for r in rows]
            else:
                tsquery = func.to_tsquery("english", " | ".join(words))
                tsvector = func.to_tsvector("english", DocumentChunk.text)
                stmt = (
                    select(DocumentChunk.id, func.ts_rank(tsvector, tsquery).label("rank"))
                    .where(DocumentChunk.user_id == user_id, tsvector.op("@@")(tsquery))
                    .order_by(text("rank DESC"))
                    .limit(limit)
                )
                if granularity:
                    stmt = stmt.where(DocumentChunk.granularity == granularity)
                scored = [(r.id, float(r.rank)) for r in (await session.execute(stmt)).all()]
            if not scored:
                return []
            meta = {
                r.id: r
                for r in (
                    await session.execute(
                        select(
                            DocumentChunk.id,
                            DocumentChunk.document_id,
                            DocumentChunk.section_id,
                            DocumentChunk.granularity,
                        ).where(DocumentChunk.id.in_([cid for cid, _ in scored]))
                    )
                ).all()
            }
        return [
            KeywordHit(
                cid, meta[cid].document_id, meta[cid].section_id or cid, meta[cid].granularity, s
            )
            for cid, s in scored
            if cid in meta
        ]

    # -- ingestion jobs ----------------------------------------------------------------------
    async def create_job(self, user_id: uuid.UUID, filename: str) -> IngestionJob:
        job = IngestionJob(user_id=user_id, filename=filename)
        async with self.db.transaction() as session:
            session.add(job)
        return job

    async def update_job(self, job_id: uuid.UUID, **values: object) -> None:
        values["updated_at"] = datetime.now(UTC)
        async with self.db.transaction() as session:
            await session.execute(
                update(IngestionJob).where(IngestionJob.id == job_id).values(**values)
            )

    async def get_job(self, user_id: uuid.UUID, job_id: uuid.UUID) -> IngestionJob:
        async with self.db.session() as session:
            job = await session.scalar(
                select(IngestionJob).where(
                    IngestionJob.id == job_id, IngestionJob.user_id == user_id
                )
            )
        if job is None:
            raise NotFound(f"ingestion job {job_id} not found")
        return job

    async def fail_interrupted_jobs(self) -> int:
        """Jobs that were running when the process died can't resume: say so instead of hanging."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(IngestionJob)
                .where(IngestionJob.status.in_(["queued", "running"]))
                .values(
                    status="failed",
                    error="interrupted by a server restart; ingest again",
                    updated_at=datetime.now(UTC),
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
