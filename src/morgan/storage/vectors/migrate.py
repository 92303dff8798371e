"""Moving a qdrant-client local-mode folder (Morgan before Qdrant Edge) into Qdrant Edge.

Points are scrolled out of the old folder with their vectors and payloads and upserted into
a new shard in `<folder>.migrating`; the swap happens only once every point is in and
flushed: the old folder becomes `<folder>.local-mode` (kept; delete it when satisfied) and the
new shard takes its name. An interrupted migration restarts from scratch on the next open
(the old folder is untouched until the swap); an interrupted swap is finished.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from morgan.storage.vectors import DENSE, SPARSE

log = structlog.get_logger(__name__)

PAGE = 512
DONE_MARKER = "MIGRATION_COMPLETE"
Progress = Callable[[int, int], None]


def is_local_mode_folder(path: Path) -> bool:
    """qdrant-client local mode keeps `meta.json` and `collection/<name>/storage.sqlite`."""
    return (path / "meta.json").is_file() and (path / "collection").is_dir()


def _work(path: Path) -> Path:
    return path.with_name(path.name + ".migrating")


def _backup(path: Path) -> Path:
    backup = path.with_name(path.name + ".local-mode")
    n = 1
    while backup.exists():
        n += 1
        backup = path.with_name(f"{path.name}.local-mode.{n}")
    return backup


def migrate_in_place_if_needed(path: Path, *, collection: str, dimension: int) -> int | None:
    """Called on every open; returns the points migrated, or None when there was nothing to do."""
    work = _work(path)
    if (work / DONE_MARKER).is_file() and not (path / "edge_config.json").is_file():
        _swap(path, work)  # a previous run copied everything but stopped before the swap
        return None
    if not is_local_mode_folder(path):
        return None
    return migrate_folder(path, path, collection=collection, dimension=dimension)


def migrate_folder(
    source: Path,
    target: Path,
    *,
    collection: str,
    dimension: int,
    progress: Progress | None = None,
) -> int:
    """Copy every point of `source` (local mode) into an Edge shard at `target`.

    `target` may equal `source` (in place). Raises if `target` already holds an Edge shard.
    """
    from qdrant_client import QdrantClient

    from morgan.storage.vectors.edge import (
        _edge,
        is_edge_folder,
        open_shard,
        write_sidecar,
    )

    if target != source and is_edge_folder(target):
        raise FileExistsError(f"{target} already holds a Qdrant Edge index; choose another target")
    work = _work(target)
    if work.exists():
        shutil.rmtree(work)  # an interrupted copy: start again from the untouched source
    t0 = time.perf_counter()
    client = QdrantClient(path=str(source))
    try:
        if not client.collection_exists(collection):
            total = 0
        else:
            info = client.get_collection(collection)
            vectors = info.config.params.vectors
            if isinstance(vectors, dict) and DENSE in vectors:
                dimension = int(vectors[DENSE].size)
            total = int(client.count(collection, exact=True).count)
        log.warning(
            "vector_migration_started", source=str(source), target=str(target), points=total
        )
        e = _edge()
        shard = open_shard(work, dimension)
        done = 0
        offset: Any = None
        try:
            while total:
                records, offset = client.scroll(
                    collection, limit=PAGE, offset=offset, with_payload=True, with_vectors=True
                )
                if not records:
                    break
                shard.update(e.UpdateOperation.upsert_points([_edge_point(e, r) for r in records]))
                done += len(records)
                if progress is not None:
                    progress(done, total)
                if done % (PAGE * 20) < PAGE or offset is None:
                    log.info("vector_migration_progress", done=done, total=total)
                if offset is None:
                    break
            shard.flush()
        finally:
            shard.close()
    finally:
        client.close()
    write_sidecar(work, migrated_from=str(source), migrated_points=done)
    (work / DONE_MARKER).write_text(str(done))
    if target == source:
        _swap(target, work)
    else:
        if target.exists():
            target.rmdir()  # empty folder only: anything else is refused by rmdir
        work.rename(target)
        (target / DONE_MARKER).unlink()
    log.warning(
        "vector_migration_done",
        source=str(source),
        target=str(target),
        points=done,
        seconds=round(time.perf_counter() - t0, 1),
    )
    return done


def _swap(path: Path, work: Path) -> None:
    if is_local_mode_folder(path):
        backup = _backup(path)
        path.rename(backup)
        log.warning(
            "vector_migration_old_folder_kept",
            old=str(backup),
            note="delete it once the new index serves well",
        )
    work.rename(path)
    (path / DONE_MARKER).unlink()


def _edge_point(e: Any, record: Any) -> Any:
    vector = record.vector or {}
    sparse = vector.get(SPARSE)
    return e.Point(
        id=str(record.id),
        vector={
            DENSE: list(vector[DENSE]),
            SPARSE: e.SparseVector(
                indices=list(sparse.indices) if sparse is not None else [],
                values=list(sparse.values) if sparse is not None else [],
            ),
        },
        payload=dict(record.payload or {}),
    )
