"""The database stopped under a running server: chats still answer (their writes wait in the
durable local queue and land when it returns), everything else is a 503 with a problem body,
never a 500.

PostgreSQL: the test starts one of its own (tests.fixtures.own_postgres) and stops that one.
SQLite: its file is taken away (moved, a folder in its place, the pool emptied), as when the
disk or mount holding it goes away.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.own_postgres import OwnPostgres
from tests.integration.api.conftest import Api, running_api

pytestmark = [pytest.mark.slow]


def _is_503_problem(r) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["code"] == "database_unavailable" and body["request_id"]


@pytest.mark.postgres
async def test_requests_get_503_while_postgres_is_down_and_work_after(
    own_pg: OwnPostgres, tmp_path: Path
) -> None:
    async with running_api(
        own_pg.url, tmp_path / "home", MORGAN_DATABASE_POOL_TIMEOUT_S="2"
    ) as api:
        up = await api.client.post("/api/chat", json={"message": "hello"}, headers=api.auth())
        assert up.status_code == 200, up.text
        assert (await api.client.get("/api/status", headers=api.auth())).status_code == 200

        own_pg.stop()
        for path in ("/api/documents", "/api/conversations"):
            _is_503_problem(await api.client.get(path, headers=api.auth()))
        feedback = await api.client.post("/api/feedback", json={"rating": 5}, headers=api.auth())
        _is_503_problem(feedback)
        # Status answers without the database (the token was seen minutes ago) and says so.
        status = await api.client.get("/api/status", headers=api.auth())
        assert status.status_code == 200, status.text
        assert "database" in status.json()["degraded"]
        # A token never seen before cannot be checked: 503, not 401 and not 500.
        _is_503_problem(
            await api.client.get("/api/status", headers=api.auth("mgn_never_seen_token_xyz"))
        )
        # Still able to serve: chats answer and their writes wait in the local queue.
        ready = await api.client.get("/health/ready")
        assert ready.status_code == 200, ready.text

        own_pg.start()
        back = await api.client.get("/api/documents", headers=api.auth())
        assert back.status_code == 200, back.text
        status = await api.client.get("/api/status", headers=api.auth())
        assert "database" not in status.json()["degraded"]


KETTLE = (
    "# Kettle manual\n\n"
    "The kettle boils one litre of water in about four minutes.\n\n"
    "The default temperature setting is 85 degrees, and the maximum is 100 degrees.\n"
)
QUESTION = "What is the default temperature setting of the kettle?"


class SqliteFileOutage:
    """SQLite's file goes away under the server (a folder in its place, the pool emptied)."""

    def __init__(self, home: Path) -> None:
        self.path = home / "morgan.db"
        self.away = home / "morgan.db.away"
        self.api: Api | None = None

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.path}"

    async def stop(self) -> None:
        assert self.api is not None
        await self.api.on_app_loop(self.api.services.db.engine.dispose)
        self.path.rename(self.away)
        self.path.mkdir()

    async def start(self) -> None:
        self.path.rmdir()
        self.away.rename(self.path)
        if self.api is not None:  # a running server: its pool reconnects to the file
            await self.api.on_app_loop(self.api.services.db.engine.dispose)


class PostgresOutage:
    def __init__(self, pg: OwnPostgres) -> None:
        self.pg = pg
        self.api: Api | None = None

    @property
    def url(self) -> str:
        return self.pg.url

    async def stop(self) -> None:
        self.pg.stop()

    async def start(self) -> None:
        self.pg.start()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    if request.param == "sqlite":
        yield SqliteFileOutage(tmp_path / "home")
        return
    pg = request.getfixturevalue("own_pg")
    yield PostgresOutage(pg)


async def _chat(api: Api, message: str, conversation_id: str | None = None, token: str = ""):  # type: ignore[no-untyped-def]
    body: dict[str, object] = {"message": message}
    if conversation_id:
        body["conversation_id"] = conversation_id
    return await api.client.post("/api/chat", json=body, headers=api.auth(token or None))


async def test_chats_answer_while_the_database_is_down_and_land_in_it_after(
    outage: SqliteFileOutage | PostgresOutage, tmp_path: Path
) -> None:
    """The issue's bar: 10 of 10 chats answer with `degraded: ["database"]` while the database
    is down, and every one of them is in the database after it returns."""
    async with running_api(
        outage.url, tmp_path / "home", MORGAN_DATABASE_POOL_TIMEOUT_S="2"
    ) as api:
        outage.api = api
        r = await api.client.post(
            "/api/ingest", files={"file": ("kettle.md", KETTLE.encode())}, headers=api.auth()
        )
        assert r.status_code in (200, 201), r.text
        first = await _chat(api, QUESTION)
        assert first.status_code == 200, first.text
        assert first.json()["sources"], first.text
        conversation = first.json()["conversation_id"]
        other_token = await api.new_user("mallory")
        theirs = (await _chat(api, "hello there", token=other_token)).json()["conversation_id"]

        await outage.stop()
        answered: list[dict[str, object]] = []
        for i in range(10):
            # Half continue the conversation opened before the outage, half start new ones.
            r = await _chat(
                api,
                QUESTION if i % 2 == 0 else f"thanks, and note {i}",
                conversation if i % 2 == 0 else None,
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert "database" in body["degraded"], body
            assert body["text"]
            answered.append(body)
        # Feedback on an answer given during the outage waits in the queue too.
        rated = {"rating": 5, "message_id": str(answered[0]["message_id"]), "id": "fb-outage-1"}
        fb = await api.client.post("/api/feedback", json=rated, headers=api.auth())
        assert fb.status_code == 201, fb.text
        assert fb.json()["queued"] is True and fb.json()["recorded"] is False
        # Retrieval still answered from the vector index (with the passages read before).
        assert answered[0]["sources"], answered[0]
        assert "85 degrees" in str(answered[0]["text"])
        # A stream continues the same conversation; another user's id is still a 404.
        stream = await api.client.post(
            "/api/chat/stream",
            json={"message": "and the maximum?", "conversation_id": conversation},
            headers=api.auth(),
        )
        assert stream.status_code == 200, stream.text
        assert '"event":"done"' in stream.text and '"event":"error"' not in stream.text
        foreign = await _chat(api, "show me", theirs)
        assert foreign.status_code == 404, foreign.text
        status = (await api.client.get("/api/status", headers=api.auth())).json()
        queue = next(c for c in status["components"] if c["name"] == "write_queue")
        assert queue["state"] == "degraded" and "queued" in queue["detail"], queue
        assert (await api.client.get("/health/ready")).status_code == 200

        await outage.start()
        outbox = api.services.outbox
        assert outbox is not None
        await api.on_app_loop(outbox.flush)
        assert outbox.pending == 0 and outbox.failed_entries() == []
        for body in answered:
            messages = await api.client.get(
                f"/api/conversations/{body['conversation_id']}/messages", headers=api.auth()
            )
            assert messages.status_code == 200, messages.text
            stored = {m["id"]: m for m in messages.json()}
            assert str(body["message_id"]) in stored, (body, stored)
            assert stored[str(body["message_id"])]["content"] == body["text"]
            assert "database" in stored[str(body["message_id"])]["degraded"]
        # The queued feedback was recorded by the flush: the same id again records nothing.
        again = await api.client.post("/api/feedback", json=rated, headers=api.auth())
        assert again.status_code == 201, again.text
        assert again.json()["recorded"] is False and again.json()["queued"] is False
        # The conversation opened before the outage holds every turn, in order, once.
        turns = (
            await api.client.get(f"/api/conversations/{conversation}/messages", headers=api.auth())
        ).json()
        assert [m["role"] for m in turns] == ["user", "assistant"] * 7
        status = (await api.client.get("/api/status", headers=api.auth())).json()
        assert "database" not in status["degraded"] and "write_queue" not in status["degraded"]


async def test_a_restart_mid_outage_flushes_what_the_last_process_queued(
    outage: SqliteFileOutage | PostgresOutage, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    async with running_api(outage.url, home, MORGAN_DATABASE_POOL_TIMEOUT_S="2") as api:
        outage.api = api
        seen = await api.client.get("/api/status", headers=api.auth())  # the token is known
        assert seen.status_code == 200, seen.text
        await outage.stop()
        queued = await _chat(api, "note this while the database is away")
        assert queued.status_code == 200, queued.text
        assert "database" in queued.json()["degraded"]
    outage.api = None  # the server stopped with the write still queued
    await outage.start()
    async with running_api(outage.url, home) as api:
        outbox = api.services.outbox
        assert outbox is not None
        await api.on_app_loop(outbox.flush)  # start-up began it; this waits for the end
        assert outbox.pending == 0 and outbox.failed_entries() == []
        body = queued.json()
        messages = await api.client.get(
            f"/api/conversations/{body['conversation_id']}/messages", headers=api.auth()
        )
        assert messages.status_code == 200, messages.text
        assert [m["content"] for m in messages.json()] == [
            "note this while the database is away",
            body["text"],
        ]
