"""Ingestion: original file -> blob, text -> three granularities of chunks -> vectors + rows.

Order of writes makes a replacement atomic for readers and leaves nothing behind on failure:
new blob, new vectors, then one DB transaction that swaps the document's rows; only then are
the old vectors and blob removed. Search joins vector hits to rows, so vectors without rows
(mid-ingest, or after a failed one) are never shown, and they are cleaned up on failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
import structlog

from morgan.llm.base import Embedder
from morgan.llm.priority import background_work
from morgan.rag.chunking import chunk_document
from morgan.rag.documents import DocumentRepository
from morgan.rag.extract import ErrorCode, ExtractionError, extract
from morgan.rag.extract.limits import Budget, IngestLimits
from morgan.rag.reconcile import IngestIntents
from morgan.rag.sparse import SparseEncoder
from morgan.storage.blobs import BlobStore, make_blob_key
from morgan.storage.models import Document, DocumentChunk
from morgan.storage.vectors import VectorIndex, VectorPoint

log = structlog.get_logger(__name__)

EMBED_BATCH = 64

Status = Literal["ingested", "replaced", "skipped", "failed"]
Progress = Callable[[str, int, int], Awaitable[None]]
"""`progress(stage, done, total)`: drives ingestion-job status and CLI progress bars."""


class IngestResult(msgspec.Struct, kw_only=True):
    source: str
    status: Status
    document_id: str | None = None
    title: str = ""
    chunks: int = 0
    pages: int | None = None
    error: str | None = None
    code: str | None = None
    duplicate_of: str | None = None


async def _no_progress(stage: str, done: int, total: int) -> None:
    return None


class IngestService:
    def __init__(
        self,
        *,
        documents: DocumentRepository,
        blobs: BlobStore,
        vectors: VectorIndex,
        embedder: Embedder,
        sparse: SparseEncoder,
        token_counter: Any,
        limits: IngestLimits | None = None,
        intents: IngestIntents | None = None,
    ) -> None:
        self.limits = limits or IngestLimits()
        self.intents = intents
        self.documents = documents
        self.blobs = blobs
        self.vectors = vectors
        self.embedder = embedder
        self.sparse = sparse
        self.token_counter = token_counter
        self._user_locks: dict[uuid.UUID, asyncio.Lock] = {}

    async def ingest(
        self,
        user_id: uuid.UUID,
        *,
        source: str,
        filename: str,
        data: bytes,
        progress: Progress = _no_progress,
        cancel: threading.Event | None = None,
        force: bool = False,
    ) -> IngestResult:
        """`cancel`, once set, stops extraction in its worker thread at the next check;
        `force` re-extracts unchanged content (`morgan documents reingest`)."""
        # One ingest per (user) at a time keeps "same source" replacement race-free.
        lock = self._user_locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            try:
                budget = Budget(self.limits, cancel=cancel)
                return await self._ingest(
                    user_id, source, filename, data, progress, budget, force=force
                )
            except ExtractionError as exc:
                log.info("ingest_rejected", source=source, code=str(exc.code), reason=exc.message)
                return IngestResult(
                    source=source, status="failed", error=exc.message, code=str(exc.code)
                )

    async def _ingest(
        self,
        user_id: uuid.UUID,
        source: str,
        filename: str,
        data: bytes,
        progress: Progress,
        budget: Budget,
        *,
        force: bool = False,
    ) -> IngestResult:
        content_hash = hashlib.sha256(data).hexdigest()
        existing = await self.documents.find_by_source(user_id, source)
        if (
            not force
            and existing is not None
            and existing.content_hash == content_hash
            and existing.status == "ready"
        ):
            return IngestResult(
                source=source,
                status="skipped",
                document_id=str(existing.id),
                title=existing.title,
                chunks=existing.chunk_count,
                pages=existing.pages,
            )
        twin = await self.documents.find_ready_by_hash(user_id, content_hash)
        if twin is not None and existing is None:
            return IngestResult(
                source=source,
                status="skipped",
                document_id=str(twin.id),
                title=twin.title,
                chunks=twin.chunk_count,
                duplicate_of=twin.source,
            )

        # Refused now (Edge building its graph: 503 + Retry-After)? Then before extraction and
        # embedding are spent on the upload.
        await self.vectors.upsert([])
        await progress("extracting", 0, 1)
        loop = asyncio.get_running_loop()

        def on_page(done: int, total: int) -> None:
            asyncio.run_coroutine_threadsafe(progress("extracting", done, total), loop)  # type: ignore[arg-type]

        try:
            extracted = await asyncio.to_thread(
                extract, data, filename, on_page=on_page, budget=budget
            )
            await progress("chunking", 0, 1)
            chunks = await asyncio.to_thread(chunk_document, extracted, self.token_counter)
        except asyncio.CancelledError:
            budget.cancel.set()  # the worker thread stops at its next check
            raise
        budget.check_chunks(len(chunks))
        if not chunks:
            raise ExtractionError(ErrorCode.EMPTY, "no extractable text", filename=filename)

        document = Document(
            id=uuid.uuid4(),
            user_id=user_id,
            source=source,
            filename=filename,
            title=(extracted.title or filename)[:512],
            mime=extracted.mime,
            size_bytes=len(data),
            content_hash=content_hash,
            blob_key=make_blob_key(user_id, filename, datetime.now(UTC)),
            status="ready",
            pages=extracted.pages,
            chunk_count=len(chunks),
        )
        rows = self._chunk_rows(document, chunks)

        await progress("storing", 0, 1)
        if self.intents is not None:  # a crash from here on is reconciled at start-up
            await self.intents.record(document.id, user_id, document.blob_key)
        try:
            await self.blobs.put(document.blob_key, data, content_type=extracted.mime)
            await self._index(document, rows, progress)
            await progress("saving", 0, 1)
            await self.documents.save_document(document, rows, replace=existing)
        except BaseException:
            if await self._discard(document, rows) and self.intents is not None:
                await self.intents.clear(document.id)
            raise
        if self.intents is not None:
            await self.intents.clear(document.id)
        if existing is not None:
            await self._remove_index_and_blob(existing)
        await progress("done", len(rows), len(rows))
        log.info(
            "document_ingested",
            document_id=str(document.id),
            chunks=len(rows),
            replaced=existing is not None,
        )
        return IngestResult(
            source=source,
            status="replaced" if existing is not None else "ingested",
            document_id=str(document.id),
            title=document.title,
            chunks=len(rows),
            pages=document.pages,
        )

    def _chunk_rows(self, document: Document, chunks: Sequence[Any]) -> list[DocumentChunk]:
        ids: dict[tuple[str, int], uuid.UUID] = {
            (c.granularity, c.index): uuid.uuid4() for c in chunks
        }
        parent_level = {"fine": "medium", "medium": "coarse"}
        rows: list[DocumentChunk] = []
        by_key: dict[tuple[str, int], DocumentChunk] = {}
        for granularity in ("coarse", "medium", "fine"):
            for c in (c for c in chunks if c.granularity == granularity):
                parent_id = None
                section_id = ids[(granularity, c.index)]
                if granularity in parent_level and c.parent_index is not None:
                    parent_key = (parent_level[granularity], c.parent_index)
                    parent_id = ids[parent_key]
                    section_id = by_key[parent_key].section_id or parent_id
                row = DocumentChunk(
                    id=ids[(granularity, c.index)],
                    document_id=document.id,
                    user_id=document.user_id,
                    granularity=granularity,
                    chunk_index=c.index,
                    parent_id=parent_id,
                    section_id=section_id,
                    text=c.text,
                    heading=(c.heading or "")[:1024],
                    page=c.page,
                    token_count=c.token_count,
                    char_start=c.char_start,
                    char_end=c.char_end,
                )
                by_key[(granularity, c.index)] = row
                rows.append(row)
        return rows

    async def _index(
        self, document: Document, rows: Sequence[DocumentChunk], progress: Progress
    ) -> None:
        """Each distinct text is embedded once (the granularities overlap: a short section is
        its own coarse, medium and fine chunk), shortest first so a batch pads little; BM25
        encoding runs off the event loop."""
        total = len(rows)
        await progress("embedding", 0, total)
        texts = [_embedding_text(document, r) for r in rows]
        distinct = sorted(dict.fromkeys(texts), key=len)
        dense: dict[str, Sequence[float]] = {}
        for start in range(0, len(distinct), EMBED_BATCH):
            part = distinct[start : start + EMBED_BATCH]
            with background_work():  # a chat arriving meanwhile goes first (llm.priority)
                vectors = await self.embedder.embed(part)
            dense.update(zip(part, vectors, strict=True))
            await progress("embedding", total * len(dense) // len(distinct), total)
        points = await asyncio.to_thread(self._points, document, rows, texts, dense)
        await self.vectors.upsert(points)  # one call: the backend batches, then flushes once

    def _points(
        self,
        document: Document,
        rows: Sequence[DocumentChunk],
        texts: Sequence[str],
        dense: dict[str, Sequence[float]],
    ) -> list[VectorPoint]:
        points = []
        for row, text in zip(rows, texts, strict=True):
            indices, values = self.sparse.encode_document(text, granularity=row.granularity)
            points.append(
                VectorPoint(
                    chunk_id=row.id,
                    user_id=document.user_id,
                    document_id=document.id,
                    section_id=row.section_id or row.id,
                    granularity=row.granularity,
                    dense=list(dense[text]),
                    sparse_indices=indices,
                    sparse_values=values,
                )
            )
        return points

    async def _discard(self, document: Document, rows: Sequence[DocumentChunk]) -> bool:
        """Best effort: a failed ingest must leave no blob and no vectors behind.

        False when a step failed: the intent then stays for reconciliation to retry.
        """
        clean = True
        for step in (
            self.vectors.delete_chunks([r.id for r in rows]),
            self.blobs.delete(document.blob_key),
        ):
            try:
                await step
            except Exception:
                clean = False
                log.exception("ingest_cleanup_failed", document_id=str(document.id))
        return clean

    async def _remove_index_and_blob(self, document: Document) -> None:
        await self.vectors.delete_document(document.user_id, document.id)
        await self.blobs.delete(document.blob_key)

    async def delete(self, user_id: uuid.UUID, document_id: uuid.UUID) -> None:
        lock = self._user_locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            await self.vectors.upsert([])  # refused now? then before the rows are gone
            document = await self.documents.delete_document(user_id, document_id)
            await self._remove_index_and_blob(document)
        log.info("document_deleted", document_id=str(document_id))


def _embedding_text(document: Document, row: DocumentChunk) -> str:
    # Title and heading give short chunks the context they need to be found.
    prefix = " / ".join(p for p in (document.title, row.heading) if p)
    return f"{prefix}\n{row.text}" if prefix else row.text
