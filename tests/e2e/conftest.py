"""A real `morgan serve` subprocess on a temp MORGAN_HOME and a free port, per database."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MORGAN = [sys.executable, "-m", "morgan.cli"]
STARTUP_TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    home: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    log: list[str]
    private: list[str] = field(default_factory=list)
    """Chat texts a test sent; `stop_server` checks that none reached the log."""

    @property
    def token(self) -> str:
        return (self.home / "token").read_text().strip()

    def cli(
        self, *args: str, input: str | None = None, token: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "MORGAN_URL": self.url}
        if token is not None:
            env["MORGAN_TOKEN"] = token
        return subprocess.run(
            [*MORGAN, *args],
            input=input,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def start_server(home: Path, extra_env: dict[str, str], port: int | None = None) -> RunningServer:
    port = port or free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MORGAN_")},
        "MORGAN_HOME": str(home),
        "MORGAN_PORT": str(port),
        "MORGAN_LOG_FORMAT": "console",
        "MORGAN_LLM_URL": "extractive://",
        "HF_HUB_OFFLINE": "1",
        **extra_env,
    }
    proc = subprocess.Popen(
        [*MORGAN, "serve", "--migrate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:  # wait for uvicorn's own "startup complete" line: an event, not a sleep
        try:
            line = lines.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            proc.kill()
            raise RuntimeError("server did not start in time:\n" + "".join(log[-40:])) from None
        if line is None:
            raise RuntimeError("server exited during start-up:\n" + "".join(log[-40:]))
        if "Uvicorn running on" in line:  # logged once the socket listens
            break
    return RunningServer(f"http://127.0.0.1:{port}", home, env, proc, log)


def stop_server(server: RunningServer) -> None:
    """Stops the server, then checks every line it logged for private data."""
    secrets = [s for s in (_read(server.home / "token"), _read(server.home / "emotion.key")) if s]
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
    assert_log_is_private(server.log, [*secrets, *server.private])


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


LEAK_MARKERS = ("[parameters:", "Bearer mgn_", "password=", "BEGIN PRIVATE KEY")


def assert_log_is_private(lines: list[str], private: list[str]) -> None:
    """No token, key, password or chat text (the texts tests put in `server.private`)."""
    leaks = [
        (i, text if text in LEAK_MARKERS else text[:12] + "...")
        for i, line in enumerate(lines)
        for text in (*private, *LEAK_MARKERS)
        if text and text in line
    ]
    assert not leaks, f"server log carries private data at lines {leaks[:10]}"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], scope="module"
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp(f"home-{request.param}")
    extra: dict[str, str] = {}
    if request.param == "postgresql":
        extra["MORGAN_DATABASE_URL"] = request.getfixturevalue("pg_server_url")
    srv = start_server(home, extra)
    yield srv
    stop_server(srv)
