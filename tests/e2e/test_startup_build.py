"""A real `morgan serve` whose Edge folder needs its HNSW build at start-up: the build runs in a
child process and the server answers meanwhile (live, chat degraded to keyword, uploads 503);
a `kill -9` of the child, or of the whole server, loses no acknowledged point.

The folder is seeded with random 384-d points (MiniLM's size) and the threshold lowered
(MORGAN_VECTORS_OPTIMIZE_AT), so the build is due at a few thousand points; the test holds the
child before its build (MORGAN_VECTORS_BUILD_HOLD) to observe the window deterministically.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from morgan.storage.vectors import VectorPoint, VectorQuery
from morgan.storage.vectors.build import HOLD_ENV, STATE_FILE
from morgan.storage.vectors.edge import EdgeVectorIndex, read_sidecar
from tests.e2e.conftest import RunningServer, start_server, stop_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pidfd, PR_SET_PDEATHSIG"),
]

DIM = 384
SEEDED = 3000
BUILT_FOR_SECONDS = 10_000
"""Points that make the build take seconds (HNSW starts above Edge's full-scan threshold)."""
DEADLINE_S = 120.0


def seed(folder: Path, n: int = SEEDED) -> list[VectorPoint]:
    rng = np.random.default_rng(7)
    user, doc = uuid.uuid4(), uuid.uuid4()
    vectors = rng.normal(size=(n, DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pts = [
        VectorPoint(
            chunk_id=uuid.uuid4(),
            user_id=user,
            document_id=doc,
            section_id=uuid.uuid4(),
            granularity=("coarse", "medium", "fine")[i % 3],
            dense=vectors[i].tolist(),
            sparse_indices=[i],
            sparse_values=[1.0],
        )
        for i in range(n)
    ]

    async def write() -> None:
        index = EdgeVectorIndex(folder, dimension=DIM, optimize_at=None)
        await index.ensure_collection()
        for start in range(0, n, 500):
            await index.upsert(pts[start : start + 500])
        await index.close()

    asyncio.run(write())
    return pts


def assert_all_searchable(folder: Path, pts: list[VectorPoint], *, at_least: int) -> None:
    async def check() -> None:
        index = EdgeVectorIndex(folder, dimension=DIM, optimize_at=None)
        await index.ensure_collection()
        try:
            assert await index.count(pts[0].user_id) == len(pts)
            assert await index.count() >= at_least
            for p in pts[:: len(pts) // 20]:
                (hits,) = await index.search(
                    p.user_id,
                    [VectorQuery.dense_query(p.dense, granularity=p.granularity, limit=1)],
                )
                assert hits and hits[0].chunk_id == p.chunk_id
        finally:
            await index.close()

    asyncio.run(check())


def until(what: str, check: Callable[[], Any]) -> Any:
    """Poll `check` (each call is a request or a file read) until truthy, within a deadline."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        value = check()
        if value:
            return value
    raise AssertionError(f"timed out waiting for {what}")


def build_state(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / STATE_FILE).read_text()))
    except (OSError, ValueError):
        return {}


def started(state: dict[str, Any]) -> dict[str, Any] | None:
    return state if state.get("phase") not in (None, "holding") else None


def vectors_component(client: httpx.Client) -> dict[str, Any]:
    components = client.get("/api/status").json()["components"]
    return next(c for c in components if c["name"] == "vectors")


def wait_exit(pid: int) -> None:
    """An event, not a poll: a pidfd becomes readable when its process exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], DEADLINE_S)
        assert ready, f"process {pid} still runs"
    finally:
        os.close(fd)


def held_server(home: Path, hold: Path) -> tuple[RunningServer, httpx.Client, int]:
    """A server whose build is due and held: returns it, a client, and the child's pid."""
    server = start_server(home, {"MORGAN_VECTORS_OPTIMIZE_AT": "1000", HOLD_ENV: str(hold)})
    client = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=120
    )
    state = until("the child to hold the folder", lambda: build_state(home / "qdrant"))
    assert state["phase"] == "holding"
    return server, client, int(state["pid"])


def test_server_answers_during_the_build_then_serves_vectors(tmp_path: Path) -> None:
    home, hold = tmp_path / "home", tmp_path / "release"
    pts = seed(home / "qdrant")
    server, client, child = held_server(home, hold)
    try:
        assert client.get("/health/live").json() == {"status": "alive"}
        assert client.get("/health/ready").status_code == 200
        vectors = vectors_component(client)
        assert vectors["state"] == "degraded" and "building the HNSW graph" in vectors["detail"]
        assert "vectors" in client.get("/api/status").json()["degraded"]
        answer = client.post("/api/chat", json={"message": "what is in my library?"})
        assert answer.status_code == 200 and "vectors" in answer.json()["degraded"]
        refused = client.post("/api/ingest", files={"file": ("n.md", b"# Note\n\nSome text.")})
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 5
        problem = refused.json()
        assert problem["code"] == "vector_index_building"
        assert "building the HNSW graph" in problem["detail"]

        hold.touch()
        until("vectors up", lambda: vectors_component(client)["state"] == "up")
        wait_exit(child)
        after = client.post("/api/chat", json={"message": "what is in my library?"}).json()
        assert "vectors" not in after["degraded"]
        ok = client.post("/api/ingest", files={"file": ("n.md", b"# Note\n\nSome text.")})
        assert ok.status_code == 200 and ok.json()["ingested"] == 1
        chunks = ok.json()["chunks"]
    finally:
        client.close()
        stop_server(server)
    assert read_sidecar(home / "qdrant")["optimized_points"] == SEEDED
    assert_all_searchable(home / "qdrant", pts, at_least=SEEDED + chunks)


def test_kill_9_of_the_child_mid_build_serves_every_point_by_brute_force(
    tmp_path: Path,
) -> None:
    home, hold = tmp_path / "home", tmp_path / "release"
    pts = seed(home / "qdrant", BUILT_FOR_SECONDS)
    server, client, child = held_server(home, hold)
    try:
        hold.touch()
        state = until("the build to start", lambda: started(build_state(home / "qdrant")))
        os.kill(child, signal.SIGKILL)
        assert state["phase"] == "optimizing", state
        until("vectors up", lambda: vectors_component(client)["state"] == "up")
        assert any("vector_index_build_failed_serving_brute_force" in line for line in server.log)
        after = client.post("/api/chat", json={"message": "what is in my library?"}).json()
        assert "vectors" not in after["degraded"]
    finally:
        client.close()
        stop_server(server)
    assert "optimized_points" not in read_sidecar(home / "qdrant")  # the next start builds
    assert_all_searchable(home / "qdrant", pts, at_least=len(pts))


def test_kill_9_of_the_server_mid_build_takes_the_child_and_restart_recovers(
    tmp_path: Path,
) -> None:
    home, hold = tmp_path / "home", tmp_path / "release"
    pts = seed(home / "qdrant")
    server, client, child = held_server(home, hold)
    client.close()
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    wait_exit(child)  # died with its parent: no orphan holds the folder's lock

    again = start_server(home, {"MORGAN_VECTORS_OPTIMIZE_AT": "1000"})
    try:
        with httpx.Client(
            base_url=again.url, headers={"Authorization": f"Bearer {again.token}"}, timeout=120
        ) as c:
            until("vectors up", lambda: vectors_component(c)["state"] == "up")
    finally:
        stop_server(again)
    assert read_sidecar(home / "qdrant")["optimized_points"] == SEEDED
    assert_all_searchable(home / "qdrant", pts, at_least=SEEDED)
