"""Against a real `morgan serve`: private data never reaches the log, `ingest --cancel` works."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.e2e.conftest import RunningServer

pytestmark = pytest.mark.slow


def test_chat_text_feedback_and_bad_input_leave_no_private_data_in_the_log(
    server: RunningServer,
) -> None:
    secret = f"I feel hopeless about my divorce {uuid.uuid4().hex}"
    comment = f"private comment {uuid.uuid4().hex}"
    server.private += [secret, comment]  # stop_server scans every log line for these
    auth = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=120) as client:
        assert client.post("/api/chat", json={"message": secret}).status_code == 200
        r = client.post("/api/feedback", json={"rating": 2, "comment": comment})
        assert r.status_code == 201, r.text
        # Rejected input (NUL, over-long) is reported without echoing the text.
        bad = client.post("/api/chat", json={"message": secret + "\x00"})
        assert bad.status_code == 400 and secret not in bad.text
        long = client.post("/api/feedback", json={"rating": 2, "comment": comment * 400})
        assert long.status_code == 400
        r = client.post(
            "/v1/chat/completions",
            json={"model": "morgan", "user": 12, "messages": [{"role": "user", "content": secret}]},
        )
        assert r.status_code == 400
        # Wrong tokens are logged as failures, never as the token.
        wrong = "mgn_" + uuid.uuid4().hex
        server.private.append(wrong)
        assert (
            client.get("/api/status", headers={"Authorization": f"Bearer {wrong}"}).status_code
            == 401
        )
    scanned = [line for line in server.log if "request_failed" in line or "error" in line.lower()]
    assert all(secret not in line for line in scanned)


def test_ingest_cancel_stops_a_job_and_keeps_nothing(server: RunningServer) -> None:
    auth = {"Authorization": f"Bearer {server.token}"}
    body = "\n\n".join(f"Paragraph {i} about gardens and soil {i % 31}." for i in range(4000))
    with httpx.Client(base_url=server.url, headers=auth, timeout=120) as client:
        r = client.post(
            "/api/ingest?wait=false", files={"file": ("garden-notes.md", body.encode())}
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["jobs"][0]["id"]
        done = server.cli("ingest", "--cancel", job_id, "--json", token=server.token)
        assert done.returncode == 0, done.stderr
        job = json.loads(done.stdout)
        assert job["stage"] == "cancelled" and job["document_id"] is None
        docs = client.get("/api/documents").json()
        assert all(d["filename"] != "garden-notes.md" for d in docs)
    usage = server.cli("ingest", token=server.token)
    assert usage.returncode == 2 and "--cancel" in usage.stderr


def test_the_log_scan_catches_a_leak() -> None:
    from tests.e2e.conftest import assert_log_is_private

    assert_log_is_private(["INFO chat_answered request_id=1"], ["my secret text"])
    with pytest.raises(AssertionError, match="private data"):
        assert_log_is_private(["WARN failed detail='my secret text'"], ["my secret text"])
    with pytest.raises(AssertionError):
        assert_log_is_private(["sqlalchemy [parameters: ('x',)]"], [])
