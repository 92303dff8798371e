"""`kill -9` mid-ingest, restart: the blob and vectors the ingest wrote are gone, and said so.

Also `morgan doctor` on a stopped server: nothing left to do after the restart cleaned up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import MORGAN, start_server, stop_server

pytestmark = pytest.mark.slow

BIG = "\n\n".join(
    f"## Part {i}\n\n" + " ".join(f"term{i}y{j} on subject {j % 89}." for j in range(150))
    for i in range(300)
).encode()


def _blob_files(home: Path) -> list[Path]:
    root = home / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_killed_ingest_leaves_nothing_after_restart(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    home = tmp_path / "home"
    extra = {}
    if database == "postgresql":
        extra["MORGAN_DATABASE_URL"] = request.getfixturevalue("fresh_pg_url")
    server = start_server(home, extra)
    try:
        auth = {"Authorization": f"Bearer {server.token}"}
        with httpx.Client(base_url=server.url, headers=auth, timeout=120) as client:
            job = client.post("/api/ingest?wait=false", files={"file": ("big.md", BIG)}).json()
            job_id = job["jobs"][0]["id"]
            for _ in range(20_000):  # until vectors are being written: poll the job row
                row = client.get(f"/api/ingest/jobs/{job_id}").json()
                if row["stage"] in ("saving", "done", "failed", "cancelled"):
                    break
                if row["stage"] == "embedding" and row["done"] > 0:
                    break
            assert row["stage"] == "embedding", f"the job got past embedding first: {row}"
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
        assert _blob_files(home), "the killed ingest should have left its blob"
    finally:
        if server.process.poll() is None:
            stop_server(server)

    again = start_server(home, extra)
    try:
        assert any("reconciled_interrupted_ingests" in line for line in again.log)
        with httpx.Client(base_url=again.url, headers=auth, timeout=60) as client:
            assert client.get("/api/documents").json() == []
            job = client.get(f"/api/ingest/jobs/{job_id}").json()
            assert job["status"] == "failed"
    finally:
        stop_server(again)
    assert _blob_files(home) == []
    env = {**again.env}
    stats = subprocess.run(
        [*MORGAN, "index", "stats"], env=env, capture_output=True, text=True, timeout=120
    )
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["points"] == 0
    doctor = subprocess.run(
        [*MORGAN, "doctor", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert doctor.returncode == 0, doctor.stderr
    assert json.loads(doctor.stdout)["intents"] == 0
