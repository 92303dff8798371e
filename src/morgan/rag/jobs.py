"""Background ingestion jobs: progress goes to the job row, which the CLI polls."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog

log = structlog.get_logger(__name__)

PROGRESS_INTERVAL_S = 0.5


async def run_ingest_job(
    services: Any, user_id: uuid.UUID, job_id: uuid.UUID, source: str, filename: str, data: bytes
) -> None:
    documents = services.documents
    last = {"stage": "", "at": 0.0}

    async def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == last["stage"] and now - float(last["at"]) < PROGRESS_INTERVAL_S and done < total:
            return  # throttle row updates; stage changes and completion always land
        last.update(stage=stage, at=now)
        await documents.update_job(job_id, status="running", stage=stage, done=done, total=total)

    try:
        result = await services.ingest.ingest(
            user_id, source=source, filename=filename, data=data, progress=progress
        )
    except Exception as exc:  # noqa: BLE001 - the job row is how the user learns about it
        log.exception("ingest_job_failed", job_id=str(job_id))
        await documents.update_job(job_id, status="failed", stage="failed", error=str(exc)[:2000],
                                   code="internal")
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
