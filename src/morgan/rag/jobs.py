"""Background ingestion jobs: progress goes to the job row, which the CLI polls.

A job can be cancelled (`DELETE /api/ingest/jobs/{id}`, `morgan ingest --cancel JOB`): the
task is cancelled, its extraction thread told to stop, and whatever it wrote is removed (the
ingest path already discards its blob and vectors when interrupted before the rows land; a
document that did land is deleted). The row stays, `failed` at stage `cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from morgan.errors import MorganError, NotFound

log = structlog.get_logger(__name__)

PROGRESS_INTERVAL_S = 0.5
CANCELLED = {
    "status": "failed",
    "stage": "cancelled",
    "code": "cancelled",
    "error": "cancelled by the user; nothing was kept",
}


class JobRegistry:
    """The jobs this process runs, so a cancel can reach the task and its worker thread.

    At most `at_once` jobs run at a time (MORGAN_INGEST_CONCURRENCY, as for uploads that
    wait); the rest stay `queued`. Ingestion is CPU-bound on the embedded default, so more at
    once adds no throughput, only contention: 32 files sent by `morgan ingest` used to run as
    32 concurrent jobs and slowed every chat on the server (docs/BENCHMARKS.md)."""

    def __init__(self, at_once: int = 2) -> None:
        self._running: dict[uuid.UUID, tuple[asyncio.Task[None], threading.Event]] = {}
        self.at_once = max(1, at_once)
        self._slots: asyncio.Semaphore | None = None  # made on first use, inside the loop

    async def _in_turn(self, job: Callable[[], Awaitable[None]]) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.at_once)
        async with self._slots:  # a cancel while queued ends here: nothing ran
            await job()

    def start(
        self,
        services: Any,
        user_id: uuid.UUID,
        job_id: uuid.UUID,
        source: str,
        filename: str,
        data: bytes,
        *,
        force: bool = False,
    ) -> None:
        cancel = threading.Event()
        task = services.spawn(
            self._in_turn(
                lambda: run_ingest_job(
                    services, user_id, job_id, source, filename, data, cancel=cancel, force=force
                )
            )
        )
        self._running[job_id] = (task, cancel)
        task.add_done_callback(lambda _t: self._running.pop(job_id, None))

    async def cancel(self, services: Any, user_id: uuid.UUID, job_id: uuid.UUID) -> Any:
        """Stop the job (404 for another user's) and remove what it wrote; returns the row."""
        job = await services.documents.get_job(user_id, job_id)
        running = self._running.get(job_id)
        if running is not None:
            task, event = running
            event.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # its cleanup has run
            job = await services.documents.get_job(user_id, job_id)
        if job.document_id is not None and job.stage != "cancelled" and job.status == "succeeded":
            with contextlib.suppress(NotFound):  # already deleted by the user
                await services.ingest.delete(user_id, job.document_id)
        await services.documents.update_job(job_id, document_id=None, **CANCELLED)
        log.info("ingest_job_cancelled", job_id=str(job_id), was_running=running is not None)
        return await services.documents.get_job(user_id, job_id)


def registry(services: Any) -> JobRegistry:
    return services.ingest_jobs  # type: ignore[no-any-return]


async def start_reingest(services: Any, user_id: uuid.UUID, document_id: uuid.UUID) -> Any:
    """A job that extracts a stored document again from its original file (kept in the blob
    store), e.g. after an upgrade improved extraction; it replaces the old rows when done."""
    document = await services.documents.get(user_id, document_id)
    data = await services.blobs.get(document.blob_key)
    job = await services.documents.create_job(user_id, document.source)
    registry(services).start(
        services, user_id, job.id, document.source, document.filename, data, force=True
    )
    return job


class IngestJobs:
    """What a request does with background jobs (start, cancel, re-ingest), bound to the
    running services, so the API asks for this and not for the whole container."""

    def __init__(self, services: Any) -> None:
        self._services = services

    def start(
        self, user_id: uuid.UUID, job_id: uuid.UUID, source: str, filename: str, data: bytes
    ) -> None:
        registry(self._services).start(self._services, user_id, job_id, source, filename, data)

    async def cancel(self, user_id: uuid.UUID, job_id: uuid.UUID) -> Any:
        return await registry(self._services).cancel(self._services, user_id, job_id)

    async def reingest(self, user_id: uuid.UUID, document_id: uuid.UUID) -> Any:
        return await start_reingest(self._services, user_id, document_id)


async def run_ingest_job(
    services: Any,
    user_id: uuid.UUID,
    job_id: uuid.UUID,
    source: str,
    filename: str,
    data: bytes,
    *,
    cancel: threading.Event | None = None,
    force: bool = False,
) -> None:
    documents = services.documents
    last = {"stage": "", "at": 0.0}

    async def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if last["stage"] and now - float(last["at"]) < PROGRESS_INTERVAL_S:  # type: ignore[arg-type]
            # At most two row updates a second, stage changes included: a small document
            # passes six stages in a tenth of a second, and each update is a write
            # transaction that chats on the same database wait behind. The first update
            # (queued -> running) and the final status always land.
            return
        last.update(stage=stage, at=now)
        await documents.update_job(job_id, status="running", stage=stage, done=done, total=total)

    existing = await documents.find_by_source(user_id, source)
    before = existing.id if existing is not None else None
    try:
        result = await services.ingest.ingest(
            user_id,
            source=source,
            filename=filename,
            data=data,
            progress=progress,
            cancel=cancel,
            force=force,
        )
    except asyncio.CancelledError:
        # Cancelled after the rows landed but before we learnt the id: find it by content.
        await _remove_landed(services, user_id, source, data, before)
        raise
    except Exception as exc:
        if cancel is not None and cancel.is_set():
            return  # the extraction thread stopped as asked; `JobRegistry.cancel` marks the row
        log.exception("ingest_job_failed", job_id=str(job_id))
        # A MorganError names its own code (`vector_index_building`: send it again later).
        code = exc.code if isinstance(exc, MorganError) else "internal"
        await documents.update_job(
            job_id, status="failed", stage="failed", error=str(exc)[:2000], code=code
        )
        return
    status = {"failed": "failed", "skipped": "skipped"}.get(result.status, "succeeded")
    await documents.update_job(
        job_id,
        status=status,
        stage="done" if status != "failed" else "failed",
        document_id=uuid.UUID(result.document_id) if result.document_id else None,
        error=result.error,
        code=result.code,
        done=result.chunks,
        total=result.chunks,
    )


async def _remove_landed(
    services: Any, user_id: uuid.UUID, source: str, data: bytes, before: uuid.UUID | None
) -> None:
    """The document this job saved, if it did: same source and content, not the one before."""
    document = await asyncio.shield(services.documents.find_by_source(user_id, source))
    if (
        document is not None
        and document.id != before
        and document.content_hash == hashlib.sha256(data).hexdigest()
    ):
        await asyncio.shield(services.ingest.delete(user_id, document.id))
