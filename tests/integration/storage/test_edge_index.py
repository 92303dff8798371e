"""What Qdrant Edge adds to the `VectorIndex` contract: one process per folder, the HNSW build
at open, migration of qdrant-client local-mode folders, and durability under `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from qdrant_client import QdrantClient, models

from morgan.storage.vectors import (
    VectorIndexBuilding,
    VectorIndexLocked,
    VectorIndexUnavailable,
    VectorPoint,
    VectorQuery,
)
from morgan.storage.vectors.build import HOLD_ENV, STATE_FILE
from morgan.storage.vectors.edge import EdgeVectorIndex, is_edge_folder
from morgan.storage.vectors.migrate import DONE_MARKER, is_local_mode_folder

DIM = 16
COLLECTION = "morgan_chunks"


def points(n: int, *, seed: int, user: uuid.UUID | None = None) -> list[VectorPoint]:
    rng = np.random.default_rng(seed)
    user = user or uuid.uuid4()
    doc, section = uuid.uuid4(), uuid.uuid4()
    out = []
    for i in range(n):
        v = rng.normal(size=DIM)
        out.append(
            VectorPoint(
                chunk_id=uuid.uuid4(),
                user_id=user,
                document_id=doc,
                section_id=section,
                granularity=("coarse", "medium", "fine")[i % 3],
                dense=(v / np.linalg.norm(v)).tolist(),
                sparse_indices=[i, 1000] if i % 5 else [],
                sparse_values=[1.0, 0.5] if i % 5 else [],
            )
        )
    return out


def local_mode_folder(path: Path, pts: list[VectorPoint]) -> None:
    """A folder exactly as Morgan's previous QdrantVectorIndex wrote it in local mode."""
    client = QdrantClient(path=str(path))
    client.create_collection(
        COLLECTION,
        vectors_config={"dense": models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
        sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    client.upsert(
        COLLECTION,
        points=[
            models.PointStruct(
                id=str(p.chunk_id),
                vector={
                    "dense": list(p.dense),
                    "bm25": models.SparseVector(
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
            for p in pts
        ],
    )
    client.close()


async def test_second_opener_gets_a_clear_lock_error(tmp_path: Path) -> None:
    first = EdgeVectorIndex(tmp_path / "v", dimension=DIM)
    await first.ensure_collection()
    second = EdgeVectorIndex(tmp_path / "v", dimension=DIM)
    try:
        with pytest.raises(VectorIndexLocked, match="held by another process"):
            await second.ensure_collection()
        assert (await second.health()).state == "down"
        other = subprocess.run(
            [sys.executable, "-m", "morgan.cli", "index", "stats"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "MORGAN_HOME": str(tmp_path),
                "MORGAN_VECTORS_URL": str(tmp_path / "v"),
            },
            timeout=120,
        )
        assert other.returncode != 0 and "held by another process" in other.stderr
    finally:
        await second.close()
        await first.close()


async def test_event_loop_turns_between_edge_calls(tmp_path: Path) -> None:
    """Edge holds the GIL during a call; run on the loop, nothing else would run meanwhile."""
    import asyncio

    index = EdgeVectorIndex(tmp_path / "v", dimension=DIM)
    await index.ensure_collection()
    ticks, done = 0, asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        for seed in range(10):
            await index.upsert(points(30, seed=seed))
            query = VectorQuery.dense_query([1.0] * DIM, granularity=None, limit=3)
            await index.search(uuid.uuid4(), [query])
        done.set()
        await task
        assert ticks >= 20  # the ticker ran during each of the 20 Edge calls
    finally:
        await index.close()


@pytest.mark.parametrize("in_child", [True, False], ids=["child", "blocking"])
async def test_open_builds_hnsw_once_enough_points_arrived(tmp_path: Path, in_child: bool) -> None:
    pts = points(60, seed=1)
    index = EdgeVectorIndex(tmp_path / "v", dimension=DIM, optimize_at=50)
    await index.ensure_collection()
    await index.upsert(pts)
    assert (await index.stats()).indexed_points == 0  # never built while serving
    await index.close()
    reopened = EdgeVectorIndex(
        tmp_path / "v", dimension=DIM, optimize_at=50, build_in_child=in_child
    )
    await reopened.ensure_collection()
    try:
        await reopened.wait_built()
        stats = await reopened.stats()
        assert stats.points == 60 and stats.indexed_points == 60
        (hits,) = await reopened.search(
            pts[0].user_id, [VectorQuery.dense_query(pts[3].dense, granularity="coarse", limit=1)]
        )
        assert hits[0].chunk_id == pts[3].chunk_id
    finally:
        await reopened.close()


async def test_local_mode_folder_migrates_in_place_on_first_open(tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    pts = points(40, seed=2)
    local_mode_folder(folder, pts)
    (tmp_path / "qdrant.migrating").mkdir()  # leftover of an interrupted earlier attempt
    (tmp_path / "qdrant.migrating" / "junk").write_text("x")
    index = EdgeVectorIndex(folder, dimension=DIM)
    await index.ensure_collection()
    try:
        assert is_edge_folder(folder)
        assert is_local_mode_folder(tmp_path / "qdrant.local-mode")  # old folder kept
        assert not (tmp_path / "qdrant.migrating").exists()
        assert await index.count(pts[0].user_id) == 40
        results = await index.search(
            pts[0].user_id,
            [
                VectorQuery.dense_query(pts[5].dense, granularity="fine", limit=1),
                VectorQuery.sparse_query([6], [1.0], granularity=None, limit=5),
            ],
        )
        assert results[0][0].chunk_id == pts[5].chunk_id
        assert [h.chunk_id for h in results[1]] == [pts[6].chunk_id]
        assert (await index.stats()).extra["migrated_from"] == str(folder)
    finally:
        await index.close()


async def test_interrupted_swap_is_finished_on_next_open(tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    pts = points(10, seed=3)
    staging = tmp_path / "staging"
    local_mode_folder(staging, pts)
    from morgan.storage.vectors.migrate import migrate_folder

    migrate_folder(staging, tmp_path / "qdrant.migrating.tmp", collection=COLLECTION, dimension=DIM)
    # The state a crash leaves between "copy complete" and "renamed into place":
    (tmp_path / "qdrant.migrating.tmp").rename(tmp_path / "qdrant.migrating")
    (tmp_path / "qdrant.migrating" / DONE_MARKER).write_text("10")
    index = EdgeVectorIndex(folder, dimension=DIM)
    await index.ensure_collection()
    try:
        assert await index.count() == 10
        assert not (folder / DONE_MARKER).exists()
    finally:
        await index.close()


def test_cli_migrate_to_a_new_target_then_stats(tmp_path: Path) -> None:
    from morgan.cli.main import cli

    source, target = tmp_path / "old", tmp_path / "new"
    local_mode_folder(source, points(25, seed=4))
    env = {"MORGAN_HOME": str(tmp_path), "MORGAN_VECTORS_URL": str(target)}
    runner = CliRunner()
    result = runner.invoke(cli, ["index", "migrate", "--source", str(source)], env=env)
    assert result.exit_code == 0, result.output
    assert is_local_mode_folder(source) and is_edge_folder(target)
    again = runner.invoke(cli, ["index", "migrate", "--source", str(source)], env=env)
    assert again.exit_code == 2 and "already holds" in again.output
    stats = runner.invoke(cli, ["index", "stats"], env=env)
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["points"] == 25
    optimized = runner.invoke(cli, ["index", "optimize"], env=env)
    assert optimized.exit_code == 0, optimized.output
    assert (
        json.loads(runner.invoke(cli, ["index", "stats"], env=env).stdout)["indexed_points"] == 25
    )


WRITER = textwrap.dedent(
    """
    import asyncio, sys, uuid
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_edge_index import DIM, points
    from morgan.storage.vectors.edge import EdgeVectorIndex

    async def main():
        index = EdgeVectorIndex(Path({path!r}), dimension=DIM, optimize_at=None)
        await index.ensure_collection()
        written = []
        for i in range(100000):
            pts = points(20, seed=i)
            await index.upsert(pts)
            print("U", pts[0].user_id, flush=True)
            written.append((pts[0].user_id, pts[0].document_id))
            if i % 3 == 2:
                user, document = written[i - 1]
                await index.delete_document(user, document)
                print("D", user, flush=True)

    asyncio.run(main())
    """
)


async def test_no_acknowledged_write_or_delete_is_lost_to_kill_9(tmp_path: Path) -> None:
    folder = tmp_path / "v"
    script = WRITER.format(tests=str(Path(__file__).parent), path=str(folder))
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    acked_upserts: list[str] = []
    acked_deletes: set[str] = set()
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.startswith(("U ", "D ")):
            continue  # log lines
        kind, user = line.split()
        (acked_upserts.append if kind == "U" else acked_deletes.add)(user)
        if len(acked_upserts) >= 40:
            break
    proc.send_signal(signal.SIGKILL)  # mid-stream: the next write is in flight
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    index = EdgeVectorIndex(folder, dimension=DIM, optimize_at=None)
    await index.ensure_collection()
    try:
        for user in acked_upserts:
            expected = 0 if user in acked_deletes else 20
            assert await index.count(uuid.UUID(user)) == expected, user
        assert len(acked_deletes) >= 10
    finally:
        await index.close()


async def held_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int = 60
) -> tuple[EdgeVectorIndex, list[VectorPoint], Path]:
    """An index whose start-up build is due and held in its child (MORGAN_VECTORS_BUILD_HOLD)."""
    pts = points(n, seed=8)
    writer = EdgeVectorIndex(tmp_path / "v", dimension=DIM, optimize_at=None)
    await writer.ensure_collection()
    await writer.upsert(pts)
    await writer.close()
    hold = tmp_path / "release"
    monkeypatch.setenv(HOLD_ENV, str(hold))
    index = EdgeVectorIndex(tmp_path / "v", dimension=DIM, optimize_at=50)
    await index.ensure_collection()
    return index, pts, hold


async def child_state(folder: Path, phase: str) -> dict[str, object]:
    """The child's state file once it reaches `phase` (it writes it on each step)."""
    import asyncio

    async def read() -> dict[str, object]:
        while True:
            try:
                state = dict(json.loads((folder / STATE_FILE).read_text()))
                if state.get("phase") == phase:
                    return state
            except (OSError, ValueError):
                pass
            await asyncio.sleep(0)  # yield to the loop between reads, no fixed wait

    return await asyncio.wait_for(read(), timeout=120)


async def test_while_the_child_builds_calls_are_refused_with_a_retry_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, pts, hold = await held_build(tmp_path, monkeypatch)
    try:
        health = await index.health()
        assert health.state == "degraded" and "building the HNSW graph" in health.detail
        for call in (
            index.upsert([]),  # ingestion asks this before extracting
            index.upsert(pts[:1]),
            index.search(
                pts[0].user_id, [VectorQuery.dense_query(pts[0].dense, granularity=None, limit=1)]
            ),
            index.count(),
        ):
            with pytest.raises(VectorIndexBuilding) as refused:
                await call
            assert isinstance(refused.value, VectorIndexUnavailable)  # retrieval: keyword
            assert refused.value.status_code == 503 and refused.value.extra["retry_after"] >= 5
        await child_state(tmp_path / "v", "holding")
        hold.touch()
        await index.wait_built()
        assert (await index.health()).state == "up"
        assert (await index.stats()).indexed_points == 60
        assert await index.count(pts[0].user_id) == 60
    finally:
        await index.close()


async def test_a_killed_build_leaves_every_point_searchable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, pts, _ = await held_build(tmp_path, monkeypatch)
    try:
        state = await child_state(tmp_path / "v", "holding")
        os.kill(int(str(state["pid"])), signal.SIGKILL)
        await index.wait_built()
        assert (await index.health()).state == "up"
        assert (await index.stats()).indexed_points == 0  # brute force; the next start builds
        assert await index.count(pts[0].user_id) == 60
        (hits,) = await index.search(
            pts[0].user_id, [VectorQuery.dense_query(pts[7].dense, granularity="medium", limit=1)]
        )
        assert hits[0].chunk_id == pts[7].chunk_id
    finally:
        await index.close()


async def test_close_during_the_build_stops_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, _, _ = await held_build(tmp_path, monkeypatch)
    await child_state(tmp_path / "v", "holding")
    await index.close()  # kills the child: the folder is free again at once
    monkeypatch.delenv(HOLD_ENV)
    again = EdgeVectorIndex(tmp_path / "v", dimension=DIM, optimize_at=50)
    await again.ensure_collection()
    try:
        await again.wait_built()
        assert await again.count() == 60 and (await again.stats()).indexed_points == 60
    finally:
        await again.close()


async def test_a_build_that_cannot_start_serves_unbuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pts = points(60, seed=9)
    writer = EdgeVectorIndex(tmp_path / "v", dimension=DIM, optimize_at=None)
    await writer.ensure_collection()
    await writer.upsert(pts)
    await writer.close()
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))  # spawning fails
    index = EdgeVectorIndex(tmp_path / "v", dimension=DIM, optimize_at=50)
    await index.ensure_collection()
    try:
        await index.wait_built()
        assert (await index.health()).state == "up"
        assert await index.count(pts[0].user_id) == 60
        assert (await index.stats()).indexed_points == 0
    finally:
        await index.close()


async def test_dense_search_is_exact_up_to_a_size_then_uses_the_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to `exact_up_to` points a dense search scans exactly (no recall lost to HNSW);
    beyond, it uses the graph with ACORN. Sparse searches carry no dense parameters."""
    import qdrant_edge

    sent: list[tuple[str, object]] = []
    real = qdrant_edge.QueryRequest

    def recording(**kwargs: object) -> object:
        params = kwargs.get("params")
        sent.append((type(kwargs["query"]).__name__, params and params.exact))  # type: ignore[attr-defined]
        return real(**kwargs)

    monkeypatch.setattr(qdrant_edge, "QueryRequest", recording)
    pts = points(30, seed=11)
    queries = [
        VectorQuery.dense_query(pts[1].dense, granularity="medium", limit=3),
        VectorQuery.sparse_query([1000], [1.0], granularity="medium", limit=3),
    ]
    for exact_up_to, exact in ((30, True), (29, False)):
        index = EdgeVectorIndex(tmp_path / "v", dimension=DIM, exact_up_to=exact_up_to)
        await index.ensure_collection()
        await index.upsert(pts)
        sent.clear()
        dense_hits, sparse_hits = await index.search(pts[1].user_id, queries)
        assert dense_hits[0].chunk_id == pts[1].chunk_id and sparse_hits
        assert [e for _, e in sent] == [exact, None], sent
        await index.close()


async def test_a_search_does_not_wait_behind_a_write(tmp_path: Path) -> None:
    """Writes run in order on one thread, searches on another: a chat's search is answered
    while an ingest's update or flush (an fsync) holds the write thread."""
    import asyncio
    import threading

    index = EdgeVectorIndex(tmp_path / "v", dimension=DIM)
    await index.ensure_collection()
    pts = points(12, seed=3)
    await index.upsert(pts)
    release = threading.Event()
    held = asyncio.ensure_future(index._run(lambda s: release.wait(60)))  # a long write
    try:
        (hits,) = await index.search(
            pts[0].user_id,
            [VectorQuery.dense_query(pts[0].dense, granularity=pts[0].granularity, limit=1)],
        )
        assert hits[0].chunk_id == pts[0].chunk_id
        assert await index.count(pts[0].user_id) == 12
        assert not held.done(), "the write thread was free after all: the test shows nothing"
    finally:
        release.set()
        await held
    await index.upsert(points(3, seed=4))  # writes still go through, in order
    assert await index.count() == 15
    await index.close()
