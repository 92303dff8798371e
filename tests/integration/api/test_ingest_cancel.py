"""`DELETE /api/ingest/jobs/{id}` stops a background job and leaves nothing it wrote."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.integration.api.conftest import Api, running_api

pytestmark = pytest.mark.slow

# Enough distinct text that embedding takes a while: the cancel lands mid-job.
BIG = "\n\n".join(
    f"## Section {i}\n\n" + " ".join(f"word{i}x{j} about topic {j % 97}." for j in range(120))
    for i in range(150)
).encode()


def _blob_files(api: Api) -> list[str]:
    root = api.home / "blobs"
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


async def _user_vectors(api: Api) -> int:
    user = await api.on_app_loop(api.services.auth.authenticate, api.token)
    return int(await api.on_app_loop(api.services.vectors.count, user.id))


async def test_cancel_a_running_job_removes_everything_it_wrote(api: Api) -> None:
    r = await api.client.post(
        "/api/ingest?wait=false", files={"file": ("big.md", BIG)}, headers=api.auth()
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["jobs"][0]["id"]
    cancelled = await api.client.delete(f"/api/ingest/jobs/{job_id}", headers=api.auth())
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (
        body["status"] == "failed" and body["stage"] == "cancelled" and body["code"] == "cancelled"
    )
    assert body["document_id"] is None
    again = (await api.client.get(f"/api/ingest/jobs/{job_id}", headers=api.auth())).json()
    assert again["stage"] == "cancelled"
    assert (await api.client.get("/api/documents", headers=api.auth())).json() == []
    assert await _user_vectors(api) == 0
    assert _blob_files(api) == []


async def test_cancel_after_the_job_finished_removes_its_document(api: Api) -> None:
    r = await api.client.post(
        "/api/ingest?wait=false",
        files={"file": ("small.md", b"# Small\n\nA short note.")},
        headers=api.auth(),
    )
    job_id = r.json()["jobs"][0]["id"]
    # Wait for the job by polling its row (an event the API exposes, not a sleep).
    for _ in range(600):
        job = (await api.client.get(f"/api/ingest/jobs/{job_id}", headers=api.auth())).json()
        if job["status"] not in ("queued", "running"):
            break
    assert job["status"] == "succeeded", job
    assert len((await api.client.get("/api/documents", headers=api.auth())).json()) == 1
    r = await api.client.delete(f"/api/ingest/jobs/{job_id}", headers=api.auth())
    assert r.status_code == 200 and r.json()["stage"] == "cancelled"
    assert (await api.client.get("/api/documents", headers=api.auth())).json() == []
    assert await _user_vectors(api) == 0 and _blob_files(api) == []


async def test_cancel_is_404_for_unknown_and_other_users_jobs(api: Api) -> None:
    r = await api.client.delete(f"/api/ingest/jobs/{uuid.uuid4()}", headers=api.auth())
    assert r.status_code == 404
    other = await api.new_user("someone-else")
    r = await api.client.post(
        "/api/ingest?wait=false", files={"file": ("n.md", b"# Mine\n\ntext")}, headers=api.auth()
    )
    job_id = r.json()["jobs"][0]["id"]
    r = await api.client.delete(f"/api/ingest/jobs/{job_id}", headers=api.auth(other))
    assert r.status_code == 404


async def _job(api: Api, job_id: str) -> dict:
    return (await api.client.get(f"/api/ingest/jobs/{job_id}", headers=api.auth())).json()


async def test_background_jobs_run_in_turn_and_a_queued_one_cancels(
    db_url: str, tmp_path: Path
) -> None:
    """With MORGAN_INGEST_CONCURRENCY=1 a second job waits `queued` until the first ended
    (32 files sent at once used to run as 32 jobs and slow every chat); cancelling a job
    that is still queued ends it with nothing written."""
    async with running_api(db_url, tmp_path / "home", MORGAN_INGEST_CONCURRENCY="1") as api:
        ids = []
        first = b"\n\n".join(BIG.split(b"\n\n")[:20])  # a second or two of embedding
        for name, data in (
            ("big.md", first),
            ("small.md", b"# Small\n\nA note."),
            ("c.md", b"# C"),
        ):
            r = await api.client.post(
                "/api/ingest?wait=false", files={"file": (name, data)}, headers=api.auth()
            )
            assert r.status_code == 202, r.text
            ids.append(r.json()["jobs"][0]["id"])
        big, small, third = ids
        cancelled = await api.client.delete(f"/api/ingest/jobs/{third}", headers=api.auth())
        assert cancelled.json()["stage"] == "cancelled"
        waited = False
        for _ in range(50_000):
            small_job = await _job(api, small)  # read first: if it started, big had ended
            big_job = await _job(api, big)
            if small_job["status"] == "queued":
                waited = waited or big_job["status"] == "running"
                continue
            assert big_job["status"] == "succeeded", (big_job, small_job)
            if small_job["status"] != "running":
                break
        assert waited, "the second job never waited for the first"
        assert small_job["status"] == "succeeded", small_job
        titles = sorted(
            d["title"] for d in (await api.client.get("/api/documents", headers=api.auth())).json()
        )
        assert len(titles) == 2 and "C" not in titles
        assert (await _job(api, third))["stage"] == "cancelled"
