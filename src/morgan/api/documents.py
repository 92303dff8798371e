"""Ingestion (multipart upload, optional background jobs) and document management."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import UploadFile
from litestar.params import Parameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from morgan.api import providers
from morgan.auth import CurrentUser
from morgan.errors import BadRequest
from morgan.rag.documents import (  # the repository and its records
    Document,
    DocumentRepository,
    IngestionJob,
)
from morgan.rag.ingest import IngestResult, IngestService
from morgan.rag.jobs import IngestJobs
from morgan.validation import MAX_OFFSET, InvalidInput, check_filename, check_source


class IngestError(msgspec.Struct):
    source: str
    error: str
    code: str | None


class IngestSummary(msgspec.Struct):
    documents: list[IngestResult]
    chunks: int
    ingested: int
    skipped_duplicates: int
    errors: list[IngestError]


class JobOut(msgspec.Struct):
    id: uuid.UUID
    source: str
    status: str
    stage: str
    done: int
    total: int
    document_id: uuid.UUID | None
    error: str | None
    code: str | None = None


class JobsAccepted(msgspec.Struct):
    jobs: list[JobOut]


class DocumentOut(msgspec.Struct):
    id: uuid.UUID
    source: str
    filename: str
    title: str
    mime: str
    size_bytes: int
    status: str
    pages: int | None
    chunks: int
    content_hash: str
    created_at: str
    chunks_by_granularity: dict[str, int] | None = None
    """Only on GET /api/documents/{id}: coarse/medium/fine chunk counts."""


def document_out(d: Document) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        source=d.source,
        filename=d.filename,
        title=d.title,
        mime=d.mime,
        size_bytes=d.size_bytes,
        status=d.status,
        pages=d.pages,
        chunks=d.chunk_count,
        content_hash=d.content_hash,
        created_at=d.created_at.isoformat(),
    )


def job_out(j: IngestionJob) -> JobOut:
    return JobOut(
        id=j.id,
        source=j.filename,
        status=j.status,
        stage=j.stage,
        done=j.done,
        total=j.total,
        document_id=j.document_id,
        error=j.error,
        code=j.code,
    )


def summarise(results: list[IngestResult]) -> IngestSummary:
    return IngestSummary(
        documents=results,
        chunks=sum(r.chunks for r in results if r.status in ("ingested", "replaced")),
        ingested=sum(1 for r in results if r.status in ("ingested", "replaced")),
        skipped_duplicates=sum(1 for r in results if r.status == "skipped"),
        errors=[
            IngestError(r.source, r.error or "", r.code) for r in results if r.status == "failed"
        ],
    )


async def _uploads(request: Request[Any, Any, Any]) -> list[tuple[str, str, bytes]]:
    form = await request.form()
    files = [f for f in form.getall("file") if isinstance(f, UploadFile)] if "file" in form else []
    if not files:
        raise BadRequest("send one or more files as multipart form fields named `file`")
    sources = [s for s in form.getall("source")] if "source" in form else []
    out = []
    for i, upload in enumerate(files):
        data = await upload.read()
        await upload.close()
        filename = upload.filename or f"upload-{i}"
        source = str(sources[i]) if i < len(sources) and sources[i] else filename
        try:
            out.append((check_source(source), check_filename(filename), data))
        except InvalidInput as exc:
            raise BadRequest(f"file {i + 1}: {exc}") from exc
    return out


class DocumentController(Controller):
    tags = ["documents"]
    dependencies = {
        "documents": providers.documents,
        "ingest": providers.ingest,
        "ingest_jobs": providers.ingest_jobs,
    }

    @post("/api/ingest", status_code=200)
    async def ingest(
        self,
        request: Request[Any, Any, Any],
        documents: DocumentRepository,
        ingest: IngestService,
        ingest_jobs: IngestJobs,
        user: CurrentUser,
        wait: bool = Parameter(default=True, description="false: return job ids at once (202)"),
    ) -> Any:
        uploads = await _uploads(request)
        if not wait:
            jobs = []
            for source, filename, data in uploads:
                job = await documents.create_job(user.id, source)
                ingest_jobs.start(user.id, job.id, source, filename, data)
                jobs.append(job_out(job))
            from litestar import Response

            return Response(JobsAccepted(jobs=jobs), status_code=HTTP_202_ACCEPTED)
        results = [
            await ingest.ingest(user.id, source=s, filename=f, data=d) for s, f, d in uploads
        ]
        return summarise(results)

    @get("/api/ingest/jobs/{job_id:uuid}")
    async def job(
        self, job_id: uuid.UUID, documents: DocumentRepository, user: CurrentUser
    ) -> dict[str, Any]:
        job = await documents.get_job(user.id, job_id)
        out = msgspec.to_builtins(job_out(job))
        return out

    @delete("/api/ingest/jobs/{job_id:uuid}", status_code=200)
    async def cancel_job(
        self, job_id: uuid.UUID, ingest_jobs: IngestJobs, user: CurrentUser
    ) -> JobOut:
        """Stop a background job and remove what it wrote (the row stays, stage `cancelled`)."""
        return job_out(await ingest_jobs.cancel(user.id, job_id))

    @get("/api/documents")
    async def list_documents(
        self,
        documents: DocumentRepository,
        user: CurrentUser,
        limit: int = Parameter(default=100, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0, le=MAX_OFFSET),
    ) -> list[DocumentOut]:
        return [document_out(d) for d in await documents.list(user.id, limit=limit, offset=offset)]

    @get("/api/documents/{document_id:uuid}")
    async def get_document(
        self, document_id: uuid.UUID, documents: DocumentRepository, user: CurrentUser
    ) -> DocumentOut:
        out = document_out(await documents.get(user.id, document_id))
        out.chunks_by_granularity = await documents.chunk_counts(document_id)
        return out

    @post("/api/documents/{document_id:uuid}/reingest", status_code=HTTP_202_ACCEPTED)
    async def reingest(
        self, document_id: uuid.UUID, ingest_jobs: IngestJobs, user: CurrentUser
    ) -> JobsAccepted:
        """Extract the stored original again (a job to poll); the document gets a new id."""
        return JobsAccepted(jobs=[job_out(await ingest_jobs.reingest(user.id, document_id))])

    @delete("/api/documents/{document_id:uuid}", status_code=HTTP_204_NO_CONTENT)
    async def delete_document(
        self, document_id: uuid.UUID, ingest: IngestService, user: CurrentUser
    ) -> None:
        await ingest.delete(user.id, document_id)
