"""Private data stays private (files, logs, readiness, metrics); busy routes answer 503 at once."""

from __future__ import annotations

import logging
import stat
import uuid
from pathlib import Path

import pytest
import structlog
from sqlalchemy import text

from morgan.observability import configure_logging
from morgan.storage.db import Database
from tests.integration.api.conftest import Api, running_api

pytestmark = pytest.mark.slow

SECRET_MESSAGE = "my secret sorrow " + uuid.uuid4().hex


async def test_home_is_0700_and_every_file_in_it_0600(api: Api) -> None:
    chat = await api.client.post("/api/chat", json={"message": "hello"}, headers=api.auth())
    assert chat.status_code == 200
    r = await api.client.post(
        "/api/ingest",
        files={"file": ("n.md", b"# Notes\n\nSome private notes.")},
        headers=api.auth(),
    )
    assert r.status_code == 200, r.text
    assert stat.S_IMODE(api.home.stat().st_mode) == 0o700
    files = [p for p in api.home.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"token", "emotion.key"} <= names and any(
        p.parent.name == "blobs" or "blobs" in p.parts for p in files
    )
    wide = [
        (str(p), oct(stat.S_IMODE(p.stat().st_mode))) for p in files if p.stat().st_mode & 0o077
    ]
    assert not wide
    dirs = [p for p in api.home.rglob("*") if p.is_dir()]
    assert not [str(d) for d in dirs if d.stat().st_mode & 0o077]


async def test_files_an_older_version_left_readable_are_narrowed_at_start(
    db_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    old = home / "left-over.log"
    old.write_text("x")
    old.chmod(0o644)
    async with running_api(db_url, home):
        assert stat.S_IMODE(old.stat().st_mode) == 0o600
        assert stat.S_IMODE(home.stat().st_mode) == 0o700


async def test_readiness_details_need_a_token_and_metrics_can_require_one(
    db_url: str, tmp_path: Path
) -> None:
    async with running_api(db_url, tmp_path / "home", MORGAN_METRICS_TOKEN="metrics-secret") as api:
        anonymous = (await api.client.get("/health/ready")).json()["components"]
        assert {c["name"] for c in anonymous} >= {"database", "vectors"}
        assert all(c["backend"] == "" and c["detail"] == "" for c in anonymous)
        authed = (await api.client.get("/health/ready", headers=api.auth())).json()["components"]
        assert any(c["backend"] for c in authed)
        assert (await api.client.get("/metrics")).status_code == 401
        wrong = await api.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await api.client.get("/metrics", headers={"Authorization": "Bearer metrics-secret"})
        assert ok.status_code == 200 and "morgan_http_requests_total" in ok.text
    async with running_api(db_url, tmp_path / "home2", MORGAN_READY_DETAILS="true") as api:
        shown = (await api.client.get("/health/ready")).json()["components"]
        assert any(c["backend"] for c in shown)
        assert (await api.client.get("/metrics")).status_code == 200  # no token configured


async def test_chat_beyond_the_concurrency_limit_is_503_at_once(
    db_url: str, tmp_path: Path
) -> None:
    async with running_api(
        db_url, tmp_path / "home", MORGAN_CHAT_CONCURRENCY="1", MORGAN_CHAT_QUEUE="0"
    ) as api:
        gate = api.client.app.state.gates[("POST", "/api/chat")]
        held = api.client.blocking_portal.call(_hold, gate)  # the one slot, taken
        try:
            for path, body in (
                ("/api/chat", {"message": "hi"}),
                ("/api/chat/stream", {"message": "hi"}),
            ):
                r = await api.client.post(path, json=body, headers=api.auth())
                assert r.status_code == 503, r.text
                assert r.json()["code"] == "overloaded" and int(r.headers["retry-after"]) > 0
            r = await api.client.post(
                "/v1/chat/completions",
                json={"model": "morgan", "messages": [{"role": "user", "content": "hi"}]},
                headers=api.auth(),
            )
            assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded"
            assert "retry-after" in r.headers
            # Other routes are not gated.
            assert (await api.client.get("/api/documents", headers=api.auth())).status_code == 200
        finally:
            api.client.blocking_portal.call(_release, held)
        r = await api.client.post("/api/chat", json={"message": "hi"}, headers=api.auth())
        assert r.status_code == 200, r.text


async def _hold(gate):  # type: ignore[no-untyped-def]
    slot = gate.slot()
    await slot.__aenter__()
    return slot


async def _release(slot) -> None:  # type: ignore[no-untyped-def]
    await slot.__aexit__(None, None, None)


async def test_database_errors_never_carry_statement_parameters(db: Database) -> None:
    with pytest.raises(Exception) as error:
        async with db.session() as session:
            await session.execute(
                text("INSERT INTO no_such_table (x) VALUES (:x)"), {"x": SECRET_MESSAGE}
            )
    assert SECRET_MESSAGE not in str(error.value)
    assert "hidden due to hide_parameters" in str(error.value)


def test_log_lines_redact_secrets_and_user_text(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    log = structlog.get_logger("privacy-test")
    token = "mgn_" + "A1b2C3d4" * 5
    log.info("chat", text=SECRET_MESSAGE, content=SECRET_MESSAGE, comment=SECRET_MESSAGE)
    log.warning("failed", error=f"boom [parameters: ('{SECRET_MESSAGE}', 3)]")
    log.info("auth", header=f"Authorization: Bearer {token}", url="postgresql://u:pw123456@h/db")
    log.info("nested", payload={"password": "hunter22", "items": [{"token": token}]})
    logging.getLogger("stdlib").warning("leak %s and Bearer abcdefgh12345678", token)
    out = capfd.readouterr().err
    for secret in (SECRET_MESSAGE, token, "pw123456", "hunter22", "abcdefgh12345678"):
        assert secret not in out, secret
    assert out.count("[redacted]") >= 8


async def test_token_guessing_and_floods_get_429_with_retry_after(
    db_url: str, tmp_path: Path
) -> None:
    async with running_api(
        db_url,
        tmp_path / "home",
        MORGAN_AUTH_FAILURES_PER_MINUTE="5",
        MORGAN_RATE_LIMIT_PER_MINUTE="3",
    ) as api:
        for _ in range(5):
            r = await api.client.get("/api/documents", headers=api.auth("mgn_" + uuid.uuid4().hex))
            assert r.status_code == 401
        r = await api.client.get("/api/documents", headers=api.auth("mgn_" + uuid.uuid4().hex))
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert 0 < int(r.headers["retry-after"]) <= 60

    async with running_api(db_url, tmp_path / "home2", MORGAN_RATE_LIMIT_PER_MINUTE="3") as api:
        for _ in range(3):
            r = await api.client.post("/api/chat", json={"message": "hi"}, headers=api.auth())
            assert r.status_code == 200, r.text
        r = await api.client.post("/api/chat", json={"message": "hi"}, headers=api.auth())
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        other = await api.new_user("other")  # limits are per token
        r = await api.client.post("/api/chat", json={"message": "hi"}, headers=api.auth(other))
        assert r.status_code == 200
        # Lists are not limited.
        assert (await api.client.get("/api/documents", headers=api.auth())).status_code == 200
