"""Ingestion, retrieval, chat and isolation through the HTTP API."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from tests.integration.api.conftest import Api

pytestmark = pytest.mark.slow

GUIDE = (
    "# Garden guide\n\n## Tomatoes\n\nTomatoes need six hours of direct sun and deep watering "
    "twice a week. Stake them early so the stems do not snap.\n\n## Basil\n\nBasil hates cold "
    "nights; bring it inside when the temperature drops below ten degrees.\n"
)


async def _ingest(
    api: Api, name: str, content: bytes, token: str | None = None, source: str | None = None
):  # type: ignore[no-untyped-def]
    data = {"source": source} if source else None
    return await api.client.post(
        "/api/ingest", files={"file": (name, content)}, data=data, headers=api.auth(token)
    )


async def test_requests_without_a_valid_token_are_401_problem_details(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer mgn_wrong"}, {"Authorization": "Basic abc"}):
        r = await api.client.get("/api/documents", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["code"] == "unauthorized" and body["request_id"]
        assert "Traceback" not in r.text


async def test_ingest_ask_reingest_replace_delete(api: Api) -> None:
    r = await _ingest(api, "garden.md", GUIDE.encode())
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["ingested"] == 1 and summary["errors"] == []
    doc = summary["documents"][0]
    doc_id = doc["document_id"]
    assert doc["status"] == "ingested" and doc["chunks"] >= 3

    chat = await api.client.post(
        "/api/chat", json={"message": "How much sun do tomatoes need?"}, headers=api.auth()
    )
    assert chat.status_code == 200, chat.text
    answer = chat.json()
    assert answer["sources"][0]["document_id"] == doc_id
    assert "six hours" in answer["text"]
    cited = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", answer["text"])}
    assert cited and cited <= {s["n"] for s in answer["sources"]}
    assert set(answer) >= {
        "conversation_id",
        "message_id",
        "text",
        "emotion",
        "sources",
        "degraded",
        "timings",
    }

    again = (await _ingest(api, "garden.md", GUIDE.encode())).json()
    assert again["skipped_duplicates"] == 1 and again["documents"][0]["document_id"] == doc_id

    changed = GUIDE.replace("six hours", "eight hours")
    replaced = (await _ingest(api, "garden.md", changed.encode())).json()["documents"][0]
    assert replaced["status"] == "replaced"
    new_id = replaced["document_id"]
    docs = (await api.client.get("/api/documents", headers=api.auth())).json()
    assert [d["id"] for d in docs] == [new_id]
    chunks_in_index = await api.on_app_loop(api.services.vectors.count)
    assert chunks_in_index == replaced["chunks"]

    user = await api.on_app_loop(api.services.auth.authenticate, api.token)
    blob_key = (
        await api.on_app_loop(api.services.documents.get, user.id, uuid.UUID(new_id))
    ).blob_key
    assert await api.on_app_loop(api.services.blobs.exists, blob_key)
    assert (
        await api.client.delete(f"/api/documents/{new_id}", headers=api.auth())
    ).status_code == 204
    assert (await api.client.get("/api/documents", headers=api.auth())).json() == []
    assert await api.on_app_loop(api.services.vectors.count) == 0
    assert not await api.on_app_loop(api.services.blobs.exists, blob_key)
    assert (await api.client.get(f"/api/documents/{new_id}", headers=api.auth())).status_code == 404


async def test_other_users_ids_are_404_and_never_retrieved(api: Api) -> None:
    doc_id = (await _ingest(api, "garden.md", GUIDE.encode())).json()["documents"][0]["document_id"]
    chat = (
        await api.client.post("/api/chat", json={"message": "tomatoes sun"}, headers=api.auth())
    ).json()
    bob = await api.new_user("bob")
    for method, path in (
        ("GET", f"/api/documents/{doc_id}"),
        ("DELETE", f"/api/documents/{doc_id}"),
        ("GET", f"/api/conversations/{chat['conversation_id']}"),
        ("GET", f"/api/conversations/{chat['conversation_id']}/messages"),
        ("DELETE", f"/api/conversations/{chat['conversation_id']}"),
    ):
        r = await api.client.request(method, path, headers=api.auth(bob))
        assert r.status_code == 404, (method, path, r.status_code)
    r = await api.client.post(
        "/api/chat",
        json={"message": "tomatoes", "conversation_id": chat["conversation_id"]},
        headers=api.auth(bob),
    )
    assert r.status_code == 404
    bob_chat = (
        await api.client.post(
            "/api/chat", json={"message": "How much sun do tomatoes need?"}, headers=api.auth(bob)
        )
    ).json()
    assert bob_chat["sources"] == []
    assert (await api.client.get("/api/documents", headers=api.auth(bob))).json() == []
    # Ann still has everything.
    assert (await api.client.get(f"/api/documents/{doc_id}", headers=api.auth())).status_code == 200


async def test_user_id_in_the_body_is_rejected_not_trusted(api: Api) -> None:
    r = await api.client.post(
        "/api/chat", json={"message": "hi", "user_id": str(uuid.uuid4())}, headers=api.auth()
    )
    assert r.status_code == 400


async def test_too_large_upload_is_413_and_stores_nothing(api: Api) -> None:
    big = b"word " * (3 * 1024 * 1024 // 5)
    r = await _ingest(api, "big.txt", big)
    assert r.status_code == 413
    assert (await api.client.get("/api/documents", headers=api.auth())).json() == []
    assert not list((api.home / "blobs").rglob("*.txt"))


async def test_damaged_file_reports_an_error_and_leaves_nothing(api: Api) -> None:
    r = await _ingest(api, "report.pdf", b"%PDF-1.7\n\x00\x01garbage without any objects")
    assert r.status_code == 200
    body = r.json()
    assert body["ingested"] == 0 and len(body["errors"]) == 1
    assert body["errors"][0]["code"] in {"damaged", "empty"}
    assert (await api.client.get("/api/documents", headers=api.auth())).json() == []
    assert await api.on_app_loop(api.services.vectors.count) == 0


async def test_stream_sends_meta_tokens_done(api: Api) -> None:
    await _ingest(api, "garden.md", GUIDE.encode())
    async with api.client.stream(
        "POST",
        "/api/chat/stream",
        json={"message": "When should basil come inside?"},
        headers=api.auth(),
    ) as r:
        assert r.status_code == 200
        events = [json.loads(line) async for line in r.aiter_lines() if line.strip()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "meta" and kinds[-1] == "done" and "token" in kinds
    assert events[0]["data"]["sources"]
    text = "".join(e["data"]["text"] for e in events if e["event"] == "token")
    assert events[-1]["data"]["response"]["text"] == text.strip()


async def test_conversations_list_rename_soft_delete(api: Api) -> None:
    first = (
        await api.client.post("/api/chat", json={"message": "hello there"}, headers=api.auth())
    ).json()
    cid = first["conversation_id"]
    follow = await api.client.post(
        "/api/chat", json={"message": "and again", "conversation_id": cid}, headers=api.auth()
    )
    assert follow.json()["conversation_id"] == cid
    convs = (await api.client.get("/api/conversations", headers=api.auth())).json()
    assert [c["id"] for c in convs] == [cid] and convs[0]["messages"] == 4
    renamed = await api.client.patch(
        f"/api/conversations/{cid}", json={"title": "Greetings"}, headers=api.auth()
    )
    assert renamed.json()["title"] == "Greetings"
    msgs = (await api.client.get(f"/api/conversations/{cid}/messages", headers=api.auth())).json()
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert (
        await api.client.delete(f"/api/conversations/{cid}", headers=api.auth())
    ).status_code == 204
    assert (await api.client.get("/api/conversations", headers=api.auth())).json() == []


async def test_vector_outage_falls_back_to_keyword_search(api: Api) -> None:
    doc_id = (await _ingest(api, "garden.md", GUIDE.encode())).json()["documents"][0]["document_id"]
    await api.on_app_loop(
        api.services.vectors.close
    )  # the index goes away under the running server
    answer = (
        await api.client.post(
            "/api/chat", json={"message": "basil cold nights"}, headers=api.auth()
        )
    ).json()
    assert "vectors" in answer["degraded"]
    assert answer["sources"] and answer["sources"][0]["document_id"] == doc_id


async def test_background_ingest_job_reports_stages_and_stays_responsive(api: Api) -> None:
    from tests.conftest import DOCUMENTS_DIR

    pdf = (DOCUMENTS_DIR / "pdf" / "GeoBase_NHNC1_Data_Model_UML_EN.pdf").read_bytes()
    r = await api.client.post(
        "/api/ingest?wait=false", files={"file": ("geobase.pdf", pdf)}, headers=api.auth()
    )
    assert r.status_code == 202, r.text
    job = r.json()["jobs"][0]
    assert job["status"] == "queued"
    # The server answers while the job runs (embedding happens off the event loop).
    assert (await api.client.get("/health/live")).status_code == 200

    async def wait_for_jobs() -> None:
        await asyncio.gather(*list(api.services.background))

    await api.on_app_loop(wait_for_jobs)
    done = (await api.client.get(f"/api/ingest/jobs/{job['id']}", headers=api.auth())).json()
    assert done["status"] == "succeeded", done
    assert done["stage"] == "done" and done["done"] == done["total"] > 0
    assert done["document_id"]
    doc = (await api.client.get(f"/api/documents/{done['document_id']}", headers=api.auth())).json()
    assert doc["pages"] == 19 and doc["chunks"] == done["total"]
    other = await api.new_user("eve")
    assert (
        await api.client.get(f"/api/ingest/jobs/{job['id']}", headers=api.auth(other))
    ).status_code == 404
