"""Crash leftovers: blobs and vectors an ingest wrote before a kill, found and removed.

An ingest writes its blob and vectors before the document rows (so readers never see half a
document). `IngestIntents` records each one first and clears it once the rows land or the
leftovers are discarded; an intent still present later means the process died in between.
`reconcile` removes what such intents name. It runs at start-up and in `morgan doctor`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import structlog
from sqlalchemy import delete, select

from morgan.storage.db import Database
from morgan.storage.models import Document, IngestIntent

log = structlog.get_logger(__name__)


class IngestIntents:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, document_id: uuid.UUID, user_id: uuid.UUID, blob_key: str) -> None:
        async with self.db.transaction() as session:
            session.add(IngestIntent(document_id=document_id, user_id=user_id, blob_key=blob_key))

    async def clear(self, document_id: uuid.UUID) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                delete(IngestIntent).where(IngestIntent.document_id == document_id)
            )

    async def pending(self, older_than: timedelta) -> list[tuple[IngestIntent, bool]]:
        """Intents older than `older_than`, each with whether its document row exists."""
        cutoff = datetime.now(UTC) - older_than
        async with self.db.session() as session:
            intents = list(
                await session.scalars(select(IngestIntent).where(IngestIntent.created_at <= cutoff))
            )
            ids = [i.document_id for i in intents]
            landed = set(await session.scalars(select(Document.id).where(Document.id.in_(ids))))
        return [(i, i.document_id in landed) for i in intents]


class ReconcileReport(msgspec.Struct, kw_only=True):
    intents: int = 0
    """Interrupted ingests found."""
    blobs_removed: int = 0
    vector_documents_cleared: int = 0
    """Documents whose leftover vectors were deleted."""
    landed: int = 0
    """Intents whose document had been saved after all (only the intent was stale)."""
    failed: list[str] = msgspec.field(default_factory=list)


async def reconcile(
    intents: IngestIntents, blobs: Any, vectors: Any, *, older_than: timedelta = timedelta(0)
) -> ReconcileReport:
    """Remove the blob and vectors of every interrupted ingest; report what was done.

    `older_than` protects ingests still running elsewhere (another replica): the server uses 0
    in embedded mode (one process) and an hour in cluster mode.
    """
    report = ReconcileReport()
    for intent, landed in await intents.pending(older_than):
        report.intents += 1
        if landed:
            report.landed += 1
            await intents.clear(intent.document_id)
            continue
        try:
            await vectors.delete_document(intent.user_id, intent.document_id)
            report.vector_documents_cleared += 1
            if await blobs.exists(intent.blob_key):
                await blobs.delete(intent.blob_key)
                report.blobs_removed += 1
            await intents.clear(intent.document_id)
        except Exception as exc:  # noqa: BLE001 - keep the intent; the next run retries
            report.failed.append(f"{intent.document_id}: {type(exc).__name__}")
            log.warning(
                "reconcile_failed", document_id=str(intent.document_id), error=type(exc).__name__
            )
    if report.intents:
        log.warning("reconciled_interrupted_ingests", **msgspec.to_builtins(report))
    return report
