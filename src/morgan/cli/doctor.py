"""`morgan doctor`: find and remove what crashes left behind, and say what was done.

It opens the database, the blob store and the vector index itself (like `morgan index`), so
in embedded mode the server must be stopped: the vector folder allows one process. The
server runs the same reconciliation at every start.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import click

from morgan.cli.client import EXIT_SERVER, CLIError
from morgan.cli.output import emit_json, wants_json

DEFAULT_DIMENSION = 384
"""Only used if the collection does not exist yet; an existing one keeps its own."""


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--min-age-minutes",
    default=0,
    show_default=True,
    help="Only ingests interrupted at least this long ago (a cluster replica may be mid-ingest).",
)
def doctor_command(as_json: bool, min_age_minutes: int) -> None:
    """Remove blobs and vectors of ingests interrupted by a crash; report what was done."""
    report = asyncio.run(_run(timedelta(minutes=min_age_minutes)))
    if wants_json(as_json):
        emit_json(report)
        return
    click.echo(
        f"{report['intents']} interrupted ingest(s): {report['blobs_removed']} blob(s) and the "
        f"vectors of {report['vector_documents_cleared']} document(s) removed, "
        f"{report['landed']} had finished after all"
        + (f"; {len(report['failed'])} could not be cleaned (retry)" if report["failed"] else "")
    )


async def _run(older_than: timedelta) -> dict[str, Any]:
    import msgspec

    from morgan.rag.reconcile import IngestIntents, reconcile
    from morgan.services import build_blobs_for
    from morgan.settings import load_settings
    from morgan.storage.db import Database
    from morgan.storage.vectors import VectorIndexUnavailable, build_vector_index

    settings = load_settings()
    db = Database(settings.database.url)
    blobs = build_blobs_for(settings)
    try:
        vectors = build_vector_index(
            settings.vectors.url,
            collection=settings.vectors.collection,
            dimension=DEFAULT_DIMENSION,
            api_key=settings.vectors.api_key,
            startup_build="off",  # a due HNSW build is the server's start-up's job
        )
        await vectors.ensure_collection()
    except VectorIndexUnavailable as exc:
        await db.close()
        raise CLIError(
            f"vector index unavailable (stop the server first?): {exc}", EXIT_SERVER
        ) from exc
    try:
        report = await reconcile(IngestIntents(db), blobs, vectors, older_than=older_than)
        return msgspec.to_builtins(report)  # type: ignore[no-any-return]
    finally:
        await vectors.close()
        if hasattr(blobs, "close"):
            await blobs.close()
        await db.close()
