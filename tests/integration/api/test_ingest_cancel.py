"""`DELETE /api/ingest/jobs/{id}` stops a background job and leaves nothing it wrote."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.api.conftest import Api

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
