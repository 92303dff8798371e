"""The cluster column of docs/architecture.md with real services: PostgreSQL, Redis, S3 (SeaweedFS).

Qdrant and Ollama have no server binary here; everything else is the real thing.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fixtures.seaweed import SeaweedServer, seaweedfs  # noqa: F401  (fixture)
from tests.integration.api.conftest import Api, running_api

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3, pytest.mark.slow]

NOTE = b"# Boiler\n\nThe boiler pressure should stay between one and two bar.\n"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _s3_url(server: SeaweedServer, bucket: str) -> str:
    return (
        f"s3://{server.access_key}:{server.secret_key}@{bucket}"
        f"?endpoint={server.endpoint_url}&region={server.region}"
    )


@pytest.fixture
async def cluster_api(
    fresh_pg_url: str, tmp_path: Path, seaweedfs: SeaweedServer
) -> AsyncIterator[Api]:
    async with running_api(
        fresh_pg_url,
        tmp_path / "home",
        MORGAN_CACHE_URL=f"redis://127.0.0.1:6379/0?prefix=morgan-test-{uuid.uuid4().hex[:8]}:",
        MORGAN_BLOBS_URL=_s3_url(seaweedfs, f"morgan-{uuid.uuid4().hex[:8]}"),
    ) as api:
        yield api


async def test_ingest_chat_delete_on_postgres_redis_s3(cluster_api: Api) -> None:
    api = cluster_api
    r = await api.client.post(
        "/api/ingest", files={"file": ("boiler.md", NOTE)}, headers=api.auth()
    )
    doc_id = r.json()["documents"][0]["document_id"]
    user = await api.on_app_loop(api.services.auth.authenticate, api.token)
    doc = await api.on_app_loop(api.services.documents.get, user.id, uuid.UUID(doc_id))
    assert await api.on_app_loop(api.services.blobs.exists, doc.blob_key)
    assert await api.on_app_loop(api.services.blobs.get, doc.blob_key) == NOTE

    first = (
        await api.client.post(
            "/api/chat", json={"message": "What boiler pressure is right?"}, headers=api.auth()
        )
    ).json()
    assert first["sources"][0]["document_id"] == doc_id and first["degraded"] == []
    follow = (
        await api.client.post(
            "/api/chat",
            json={"message": "and if it drops?", "conversation_id": first["conversation_id"]},
            headers=api.auth(),
        )
    ).json()
    assert follow["degraded"] == []
    status = (await api.client.get("/api/status", headers=api.auth())).json()
    backends = {c["name"]: c["backend"] for c in status["components"]}
    assert "redis" in backends["cache"].lower() and "s3" in backends["blobs"].lower()

    assert (
        await api.client.delete(f"/api/documents/{doc_id}", headers=api.auth())
    ).status_code == 204
    assert not await api.on_app_loop(api.services.blobs.exists, doc.blob_key)


async def test_redis_outage_answers_from_the_database_and_says_so(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    async with running_api(
        fresh_pg_url, tmp_path / "home", MORGAN_CACHE_URL=f"redis://127.0.0.1:{_closed_port()}/0"
    ) as api:
        first = (
            await api.client.post("/api/chat", json={"message": "hello"}, headers=api.auth())
        ).json()
        second = (
            await api.client.post(
                "/api/chat",
                json={"message": "again", "conversation_id": first["conversation_id"]},
                headers=api.auth(),
            )
        ).json()
        assert "cache" in second["degraded"]
        msgs = (
            await api.client.get(
                f"/api/conversations/{first['conversation_id']}/messages", headers=api.auth()
            )
        ).json()
        assert [m["content"] for m in msgs if m["role"] == "user"] == ["hello", "again"]
        status = (await api.client.get("/api/status", headers=api.auth())).json()
        assert "cache" in status["degraded"]
