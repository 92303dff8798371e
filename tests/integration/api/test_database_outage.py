"""PostgreSQL stopped under a running server: 503s with problem bodies, never 500; back after.

The test starts a PostgreSQL of its own (tests.fixtures.own_postgres) and stops that one.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.own_postgres import OwnPostgres
from tests.integration.api.conftest import running_api

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def own_pg() -> Iterator[OwnPostgres]:
    base = Path(tempfile.mkdtemp(prefix="morgan-pg-"))
    base.chmod(0o755)  # the postgres user must reach its data folder
    pg = OwnPostgres(base / "pg").init()
    pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped by the test
            pg.stop()
        shutil.rmtree(base, ignore_errors=True)


def _is_503_problem(r) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["code"] == "database_unavailable" and body["request_id"]


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
        ready = await api.client.get("/health/ready")
        assert ready.status_code == 503

        own_pg.start()
        back = await api.client.get("/api/documents", headers=api.auth())
        assert back.status_code == 200, back.text
        status = await api.client.get("/api/status", headers=api.auth())
        assert "database" not in status.json()["degraded"]
