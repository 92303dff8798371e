"""`morgan ingest` against a scripted HTTP server: a busy server (503/429 + Retry-After) is waited
out, and a job that runs longer than --timeout does not fail the client (each poll is short)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from morgan.cli.main import cli

JOB = {
    "id": "7c0d8a4e-0000-4000-8000-000000000001",
    "source": "x",
    "stage": "embedding",
    "done": 1,
    "total": 3,
    "document_id": None,
    "error": None,
    "code": None,
}


class Script:
    def __init__(self, busy: int, running_polls: int) -> None:
        self.busy = busy
        self.running_polls = running_polls
        self.uploads = 0
        self.polls = 0
        self.lock = threading.Lock()


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script(busy=2, running_polls=6)

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            with script.lock:
                script.uploads += 1
                busy = script.uploads <= script.busy
            if busy:  # first at capacity, then rate limited
                status = 503 if script.uploads == 1 else 429
                self._send(status, {"detail": "busy"}, {"retry-after": "0"})
            else:
                self._send(202, {"jobs": [{**JOB, "status": "queued"}]})

        def do_GET(self) -> None:
            with script.lock:
                script.polls += 1
                done = script.polls > script.running_polls
            status = (
                {
                    "status": "succeeded",
                    "stage": "done",
                    "done": 3,
                    "document_id": "7c0d8a4e-0000-4000-8000-0000000000d0",
                }
                if done
                else {"status": "running"}
            )
            self._send(200, {**JOB, **status})

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


def test_busy_server_is_waited_out_and_a_long_job_outlives_the_timeout(
    scripted: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = scripted
    note = tmp_path / "note.txt"
    note.write_text("The heron returns in May.")
    env = {"MORGAN_HOME": str(tmp_path / "home"), "MORGAN_URL": None, "MORGAN_CLIENT_TIMEOUT": None}
    # --timeout bounds each reply, not the job: six polls take longer than 0.5 s in total
    result = CliRunner().invoke(
        cli,
        ["ingest", "--url", url, "--token", "t", "--timeout", "0.5", "--json", str(note)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert script.uploads == 3 and script.polls == 7  # 503, 429, then accepted; 6 running polls
    (doc,) = json.loads(result.stdout)["documents"]
    assert doc["status"] == "ingested" and doc["chunks"] == 3
